"""Exceptions raised by fashionclf.

Every exception says what was received, what was expected and, where known,
how to fix it.
"""

__all__ = ["ChecksumError", "DataFormatError", "DownloadError", "ModelFileError"]


class DataFormatError(ValueError):
    """A data file (IDX or Kaggle CSV) is malformed.

    Wrong header, magic number, column count, value range or length.
    """


class ChecksumError(DataFormatError):
    """A downloaded or local file does not match its published checksum."""


class DownloadError(OSError):
    """Every mirror failed to deliver a file, after all retries."""


class ModelFileError(ValueError):
    """A model file is not a valid fashionclf weights-only file."""
