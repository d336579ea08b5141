"""SHA-256 of files: the one fingerprint the feature cache, run records, model folders and weights use."""

from __future__ import annotations

import hashlib
import os

__all__ = ["sha256_file", "sampled_sha256_file"]


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> sha256_file(f.name)[:16]
    'ba7816bf8f01cfea'
    >>> os.remove(f.name)
    """
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


#: Bytes read per sample and number of samples of :func:`sampled_sha256_file` (16 MiB of a multi-GB slide).
SAMPLE_BYTES = 1 << 20
N_SAMPLES = 16


def sampled_sha256_file(path: str | os.PathLike, *, samples: int = N_SAMPLES, chunk: int = SAMPLE_BYTES) -> str:
    """SHA-256 of a file's size and of ``samples`` evenly spaced chunks of it (the whole file when it is small).

    Reads at most ``samples * chunk`` bytes (16 MiB by default) whatever the file's size, so a multi-GB slide
    is fingerprinted in milliseconds. Any change of size, and any change inside the chunks read (the first and
    the last included), changes the digest; an edit of the same size between the chunks does not -- use
    :func:`sha256_file` where that matters.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc" * 10)
    >>> a = sampled_sha256_file(f.name, samples=2, chunk=4)
    >>> with open(f.name, "r+b") as g:
    ...     _ = g.write(b"x")                     # inside the first chunk
    >>> sampled_sha256_file(f.name, samples=2, chunk=4) != a
    True
    >>> os.remove(f.name)
    """
    size = os.path.getsize(path)
    digest = hashlib.sha256(b"multisurv-sampled-sha256-v1\0" + str(size).encode("ascii") + b"\0")
    with open(path, "rb") as handle:
        if size <= samples * chunk:
            digest.update(handle.read())
            return digest.hexdigest()
        step = (size - chunk) / (samples - 1)
        for i in range(samples):
            handle.seek(int(round(i * step)))
            digest.update(handle.read(chunk))
    return digest.hexdigest()
