"""The batched-HEAD tests of tests/functional/test_multihead.py, on SeaweedFS."""

from tests.functional.test_multihead import (  # noqa: F401 - collected here, on SeaweedFS
    test_a_batch_of_heads_ends_each_job_as_run_info_would,
    test_an_info_batch_through_the_engine_matches_one_head_at_a_time,
)
