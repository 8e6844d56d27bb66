"""The side-by-side viewer: a thin Gradio UI over workbench/interfaces/labeling.py.

    workbench label [--root DIR] [--run RUN] [--port N] [--public]

Prompt on top, the pair's two responses side by side in an order drawn at random per item (and recorded),
buttons A better / B better / Tie / Skip (keys a, b, t, s), an optional comment, the labeler's name, a queue.
After each click the label is written to the store and the next pair appears. The Agreement tab shows how often
people, the reward model, the simulated annotator and gold agree, per section, with Wilson intervals.

Binds 127.0.0.1. `--public` listens on every interface and then requires the password in
$WORKBENCH_LABEL_PASSWORD (Gradio's login page; any user name). Everything a labeler types is stored as data and
shown back only in plain text boxes: nothing is rendered as Markdown or HTML.
"""

# No `from __future__ import annotations`: Gradio finds the gr.Request parameter by its evaluated annotation.
import hmac
import os

from workbench.data import labels as D
from workbench.evaluation import agreement as A
from workbench.interfaces import labeling as L

PASSWORD_ENV = "WORKBENCH_LABEL_PASSWORD"

# Keyboard shortcuts; ignored while typing in a text box.
HEAD = """
<script>
document.addEventListener('keydown', (e) => {
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey || (t && (t.tagName === 'TEXTAREA' || t.tagName === 'INPUT'))) return;
  const id = {a: 'btn-a', b: 'btn-b', t: 'btn-tie', s: 'btn-skip'}[e.key.toLowerCase()];
  const el = id && document.getElementById(id);
  if (el) { e.preventDefault(); el.click(); }
});
</script>
"""

# Read-only boxes are greyed out by default; the responses are what the labeler reads, so keep them full contrast.
CSS = "#prompt textarea, #response-a textarea, #response-b textarea {color: var(--body-text-color); opacity: 1;}"

AGREEMENT_HEADERS = ["section", "judge", "vs judge", "n", "agree", "rate", "95% CI low", "95% CI high"]
JUDGES_NOTE = (
    "Judges: **human** (the labels here), **rm** (the Bradley-Terry reward model's raw scores), **annotator** "
    "(the simulated annotator: its actual label on reward-model training pairs, its most likely label on loop "
    "pairs), **gold** (the toy world's utility). n counts pairs where both judges prefer one response; ties and "
    "skips are left out. Computed on the labelled pairs only: queues other than *random* are not a random sample."
)


def _require_gradio():
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio as gr
    except ImportError:
        raise ImportError("the viewer needs gradio: pip install -e '.[app]'") from None
    return gr


def _status(shown: L.Shown | None, queue: str) -> str:
    if shown is None:
        return f"Queue **{queue}** is done for you: nothing left to label. Pick another queue or run."
    i = shown.item
    return (
        f"pair `{i.pair_id}` · iteration {i.iteration} · section {i.section} · "
        f"{shown.remaining} left in queue **{queue}** for you"
    )


def agreement_rows(root, run_id) -> list[list]:
    return [
        [r.section, r.judge_a, r.judge_b, r.n, r.agree, round(r.rate, 3), round(r.ci_low, 3), round(r.ci_high, 3)]
        for r in A.store_agreement(root, run_id)
    ]


def counts_text(root, run_id) -> str:
    rows = D.label_counts(root, run_id)
    if not rows:
        return "No labels in this run yet."
    per: dict[str, dict[str, int]] = {}
    for labeler, choice, n in rows:
        per.setdefault(labeler, {})[choice] = n
    lines = [f"{sum(n for _, _, n in rows)} labels by {len(per)} labeler(s):"]
    for labeler, c in per.items():
        lines.append(f"{labeler}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    return "\n".join(lines)


def build_app(root: str, run_id: str | None = None):
    """The Gradio Blocks for the store under `root`; `run_id` is the run selected first (default: the newest)."""
    gr = _require_gradio()
    claims = L.Claims()
    runs = D.list_runs(root)
    if run_id and run_id not in runs:
        raise ValueError(f"run {run_id!r} has no pairs under {root} (runs with pairs: {', '.join(runs) or 'none'})")
    first_run = run_id or (runs[0] if runs else None)
    queues = [q.value for q in L.Queue]

    def show(labeler, run, queue, request: gr.Request):
        """Next item for this labeler; returns state, status, prompt, A, B, comment."""
        session = request.session_hash or ""
        if not (labeler or "").strip():
            return None, "Type your name, then press Enter (it is stored with each label).", "", "", "", ""
        if not run:
            return None, f"No run with pairs under {root} yet.", "", "", "", ""
        try:
            shown = L.next_item(root, run, queue, labeler, claims, session)
        except L.LabelError as e:
            raise gr.Error(str(e))
        if shown is None:
            return None, _status(None, queue), "", "", "", ""
        i = shown.item
        return shown, _status(shown, queue), i.prompt, i.text(shown.left_id), i.text(shown.right_id), ""

    def submitter(choice: L.Choice):
        def submit(shown, labeler, run, queue, comment, request: gr.Request):
            if shown is None:
                gr.Warning("Nothing on screen to label: type your name and pick a queue.")
            else:
                try:
                    L.write_label(root, L.make_label(shown, labeler, choice, comment))
                except L.LabelError as e:
                    raise gr.Error(str(e))
            return show(labeler, run, queue, request)

        submit.__name__ = f"submit_{choice.name.lower()}"
        return submit

    with gr.Blocks(title="RLHF Workbench: pair viewer") as demo:
        shown_state = gr.State(None)
        gr.Markdown("## Which response is better?")
        with gr.Row():
            labeler = gr.Textbox(label="Your name", placeholder="e.g. ada", max_lines=1, scale=1, elem_id="labeler")
            run = gr.Dropdown(choices=runs, value=first_run, label="Run", scale=2)
            queue = gr.Radio(
                choices=queues, value=L.Queue.RANDOM.value, label="Queue", scale=2,
                info=" · ".join(f"{q.value}: {q.description}" for q in L.Queue),
            )
        with gr.Tab("Label"):
            status = gr.Markdown("Type your name, then press Enter.", elem_id="status")
            prompt = gr.Textbox(label="Prompt", interactive=False, lines=1, elem_id="prompt")
            with gr.Row(equal_height=True):
                resp_a = gr.Textbox(label="A", interactive=False, lines=4, elem_id="response-a")
                resp_b = gr.Textbox(label="B", interactive=False, lines=4, elem_id="response-b")
            with gr.Row():
                btn_a = gr.Button("A better", variant="primary", elem_id="btn-a")
                btn_b = gr.Button("B better", variant="primary", elem_id="btn-b")
                btn_tie = gr.Button("Tie", elem_id="btn-tie")
                btn_skip = gr.Button("Skip", elem_id="btn-skip")
            comment = gr.Textbox(label="Comment (optional)", max_lines=3, elem_id="comment")
            gr.Markdown("Keys: **a** = A better, **b** = B better, **t** = tie, **s** = skip (outside text boxes).")
        with gr.Tab("Agreement"):
            gr.Markdown(JUDGES_NOTE)
            refresh = gr.Button("Refresh")
            table = gr.Dataframe(headers=AGREEMENT_HEADERS, interactive=False, wrap=True)
            counts = gr.Textbox(label="Labels", interactive=False, lines=3)

        outputs = [shown_state, status, prompt, resp_a, resp_b, comment]
        inputs = [labeler, run, queue]
        for trigger in (labeler.submit, queue.change, run.change):
            trigger(show, inputs, outputs, api_visibility="private")
        gr.Button("Next", visible=False).click(show, inputs, outputs, api_name="next")
        buttons = ((btn_a, L.Choice.A), (btn_b, L.Choice.B), (btn_tie, L.Choice.TIE), (btn_skip, L.Choice.SKIP))
        for button, choice in buttons:
            button.click(
                submitter(choice), [shown_state, labeler, run, queue, comment], outputs,
                api_name=f"label_{choice.name.lower()}",
            )

        def agreement_view(run):
            return agreement_rows(root, run), counts_text(root, run)

        refresh.click(agreement_view, [run], [table, counts], api_name="agreement")
        demo.load(agreement_view, [run], [table, counts], api_visibility="private")
    return demo


def launch(root: str, run_id: str | None = None, port: int = 7860, public: bool = False, block: bool = True):
    """Serve the viewer on 127.0.0.1:`port` (every interface with `public`, which requires $WORKBENCH_LABEL_PASSWORD).
    A password in the environment turns the login page on in either case."""
    password = os.environ.get(PASSWORD_ENV, "")
    if public and not password:
        raise ValueError(f"--public serves the viewer to the network: set a password in ${PASSWORD_ENV} first")
    auth = None
    if password:

        def auth(username: str, given: str) -> bool:
            return hmac.compare_digest(given.encode(), password.encode())

    demo = build_app(root, run_id)
    demo.queue(default_concurrency_limit=8)
    return demo.launch(
        server_name="0.0.0.0" if public else "127.0.0.1",
        server_port=port,
        auth=auth,
        auth_message="Password from the workbench owner" if auth else None,
        head=HEAD,
        css=CSS,
        ssr_mode=False,
        share=False,
        show_error=True,
        prevent_thread_lock=not block,
    )


if __name__ == "__main__":
    import sys

    from workbench.interfaces.cli import main

    sys.exit(main(["label", *sys.argv[1:]]))
