"""The batched-copy tests of tests/functional/test_multicopy.py, on SeaweedFS (which,
unlike moto, holds a copy to ``x-amz-copy-source-if-match``)."""

from tests.functional.test_multicopy import (  # noqa: F401 - collected here, on SeaweedFS
    test_a_batch_of_copies_ends_each_job_as_run_copy_would,
    test_a_plain_manifest_copy_heads_its_source_and_bad_facts_are_named,
    test_the_library_copies_many_without_a_second_head,
)
