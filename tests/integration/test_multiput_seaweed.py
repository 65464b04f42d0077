"""The batched-PUT tests of tests/functional/test_multiput.py, on SeaweedFS (which,
unlike moto, checks the CRC32 of every body it is sent, and echoes it)."""

from tests.functional.test_multiput import (  # noqa: F401 - collected here, on SeaweedFS
    test_a_batch_of_puts_ends_each_job_as_run_put_would,
    test_a_failing_key_among_many_has_its_own_line,
    test_an_engine_put_of_1000_mixed_sizes_stores_every_byte,
    test_no_overwrite_in_a_batch_refuses_existing_objects,
    test_put_files_and_put_many_of_1000_small_objects_through_the_library,
)
