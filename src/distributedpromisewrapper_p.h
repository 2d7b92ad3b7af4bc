// SPDX-License-Identifier: MIT
#pragma once

#include "coordinator_p.h"
#include "distributedpromisewrapper.h"

#include <QtCore/QHash>
#include <QtCore/QMutex>

class DistributedPromiseWrapperPrivate
{
public:
    DistributedPromiseConfig config;
    QString configError;
    std::shared_ptr<DistributedPromiseDetail::CoreHandle> handle;
    std::unique_ptr<DistributedPromiseDetail::Coordinator> coordinator;
    QMutex registryMutex; // wrap() and call() may run on any thread
    QHash<QString, std::shared_ptr<DistributedPromiseDetail::Registration>> registry;
    bool lastConnected = false;
};
