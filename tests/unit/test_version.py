"""Both packages say which version they are, and agree with the installed metadata."""

from __future__ import annotations

from importlib import metadata

import s3client
import s3op


def test_versions_agree_with_the_installed_distribution() -> None:
    installed = metadata.version("s3client")
    assert s3client.__version__ == s3op.__version__ == installed
