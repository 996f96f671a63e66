# storage/: the spool, results log, state files.
fc_unit_test(test_storage SOURCES unit/test_storage.c LIBS fieldcam_storage)
