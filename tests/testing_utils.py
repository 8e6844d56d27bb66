"""Markers for tests that need an optional dependency: skipped, with the reason, only where it is not installed."""

import pytest

from workbench.import_utils import VLLM_INSTALL, is_vllm_available

require_vllm = pytest.mark.skipif(not is_vllm_available(), reason=f"needs vLLM: {VLLM_INSTALL}")
