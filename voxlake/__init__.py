"""voxlake: a reproducible data platform for speech corpora.

The core library. It imports no Dagster; the orchestration layer calls into it.
Numeric kernels run single-threaded per voice (parallelism is across voices), so the
thread pools of the BLAS and OpenMP runtimes are pinned to one thread before numpy loads.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
