/* (being written: the configuration loader) */
#include "ag.h"
