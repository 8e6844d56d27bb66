"""What the workbench prints: by default one progress bar at a time, one `[workbench] stage … done in …s` line per
stage, and the metrics table at the end; `--verbose` (or WORKBENCH_VERBOSE=1) gives the libraries' own output back.

Quiet uses the libraries' switches, never stream redirection: transformers' and datasets' verbosity and progress
bars ("Loading weights", "Tokenizing", "Truncating"), and, for the TRL trainers, `quiet_trainer`, which swaps
transformers' ProgressCallback (a bar that also prints every logged dict) for the same bar without the printing.
Training metrics still reach the trainers' `log_history` (and from there the store) and `report_to`.

The setting lives in the environment, so processes a stage starts (`accelerate launch`, vLLM's workers) inherit it.
"""

from __future__ import annotations

import os

ENV = "WORKBENCH_VERBOSE"


def is_verbose() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def set_verbose(verbose: bool) -> None:
    """Choose for this process and the processes it starts; the libraries are told when a stage begins (`apply`)."""
    os.environ[ENV] = "1" if verbose else "0"


def apply() -> None:
    """Set the libraries' verbosity and progress bars from the setting (call before a stage imports them)."""
    import datasets
    import transformers

    if is_verbose():
        transformers.utils.logging.set_verbosity_warning()
        transformers.utils.logging.enable_progress_bar()
        datasets.utils.logging.set_verbosity_warning()
        datasets.enable_progress_bars()
    else:
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        datasets.utils.logging.set_verbosity_error()
        datasets.disable_progress_bars()


def quiet_trainer(trainer):
    """`trainer` with a progress bar that does not print its logs (quiet), or as it is (verbose)."""
    if is_verbose():
        return trainer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class QuietProgress(ProgressCallback):
        """transformers' training bar, gone when training ends, without the dict it prints at every log."""

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                from tqdm.auto import tqdm

                self.training_bar = tqdm(total=state.max_steps, dynamic_ncols=True, leave=False, desc="train")
            self.current_step = 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(QuietProgress)
    return trainer
