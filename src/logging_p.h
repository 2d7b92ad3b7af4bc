// SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcDistributedPromise)
