// SPDX-License-Identifier: MIT
#include "logging_p.h"

Q_LOGGING_CATEGORY(lcDistributedPromise, "distributedpromise", QtInfoMsg)
