"""Audio: decoding and validation, DeepFilterNet3 denoising (streamed), DNSMOS scoring."""

from voxlake.audio.decode import AudioLimits, RejectedAudio, read_audio, read_mono, resample
from voxlake.audio.denoise import SAMPLE_RATE, DenoiseConfig, model_info
from voxlake.audio.fork_server import ForkingDenoiser
from voxlake.audio.stream import denoise_file

__all__ = [
    "SAMPLE_RATE",
    "AudioLimits",
    "DenoiseConfig",
    "ForkingDenoiser",
    "RejectedAudio",
    "denoise_file",
    "model_info",
    "read_audio",
    "read_mono",
    "resample",
]
