// SPDX-License-Identifier: MIT
// A flight's life in this process: its callers (deadlines, cancellation, phases), its timers, and
// how it ends (settle, finish, abandon, shut down).
#include "coordinator_p.h"

#include "distributedpromise.h"
#include "logging_p.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QPointer>

namespace DistributedPromiseDetail {

namespace {
// How often callers of long-running flights are checked for cancelled futures.
constexpr std::chrono::milliseconds cancelSweepInterval(100);
// How long shutting down waits for the lock releases to be written to Redis.
constexpr std::chrono::milliseconds shutDownFlush(200);
} // namespace

void Coordinator::initSweeping()
{
    m_sweepTimer.setInterval(cancelSweepInterval);
    connect(&m_sweepTimer, &QTimer::timeout, this, &Coordinator::sweepCancelled);
}

QTimer *Coordinator::timerOf(
    Flight *flight, std::unique_ptr<QTimer> Flight::*timer, void (Coordinator::*action)(Flight *))
{
    // The flight owns the timer, and take() stops it: it only fires in flight. A recycled flight
    // keeps its timers, which act on the same Flight object.
    std::unique_ptr<QTimer> &slot = flight->*timer;
    if (!slot) {
        slot = std::make_unique<QTimer>();
        slot->setSingleShot(true);
        slot->setTimerType(Qt::PreciseTimer);
        connect(slot.get(), &QTimer::timeout, this,
            [this, action, flight] { (this->*action)(flight); });
    }
    return slot.get();
}

Coordinator::Flight *Coordinator::newFlight(const std::shared_ptr<Registration> &registration,
    const QByteArray &identity, const QJsonArray &args)
{
    Flight *flight = nullptr;
    if (m_spareFlights.empty()) {
        flight = new Flight;
    } else {
        flight = m_spareFlights.back().release();
        m_spareFlights.pop_back();
    }
    flight->id = ++m_nextId;
    flight->identity = identity;
    flight->keys.data = m_keyNames.dataKey(identity);
    flight->registration = registration;
    flight->args = args;
    if (const WorkScope *work = t_work)
        flight->ancestors = work->ancestors + QList<QByteArray> { work->identity };
    m_flights.insert(identity, flight);
    m_byId.insert(flight->id, flight);
    return flight;
}

void Coordinator::addCaller(Flight *flight, std::unique_ptr<Waiter> waiter,
    std::chrono::milliseconds timeout, bool wantsFresh, bool joined)
{
    Caller caller { std::move(waiter), QDeadlineTimer(QDeadlineTimer::Forever), timeout, wantsFresh,
        joined, {} };
    if (m_measuring)
        caller.since = std::chrono::steady_clock::now();
    if (flight->fallback.serving && !wantsFresh) {
        // A refresh is under way and its entry goes to everyone at once (stale after
        // softTimeout, or still fresh for an eager refresh).
        const bool stale = flight->fallback.stale;
        if (stale)
            ++m_stats[Counter::Stale];
        resolveWith(*caller.waiter, flight->fallback.outcome, stale, fallbackAge(flight));
        report(flight, caller,
            stale ? DistributedPromiseCallEvent::Stale : DistributedPromiseCallEvent::Hit);
        return;
    }
    if (timeout.count() > 0)
        caller.deadline = QDeadlineTimer(timeout);
    if (flight->announced > 0)
        caller.waiter->setPhase(flight->announced, flight->announcedText);
    flight->callers.push_back(std::move(caller));
    if (timeout.count() > 0)
        armDeadline(flight);
}

void Coordinator::announce(Flight *flight, int phase, const QString &text)
{
    if (phase <= flight->announced)
        return;
    flight->announced = phase;
    flight->announcedText = text;
    for (const Caller &caller : flight->callers)
        caller.waiter->setPhase(phase, text);
}

bool Coordinator::pruneCancelled(Flight *flight)
{
    auto &callers = flight->callers;
    const auto cancelled = std::stable_partition(callers.begin(), callers.end(),
        [](const Caller &caller) { return !caller.waiter->isCanceled(); });
    if (cancelled == callers.end())
        return !callers.empty() || flight->background();
    auto gone = std::make_shared<std::vector<Caller>>();
    std::move(cancelled, callers.end(), std::back_inserter(*gone));
    callers.erase(cancelled, callers.end());
    m_stats[Counter::Cancelled] += gone->size();
    for (const Caller &caller : *gone)
        report(flight, caller, DistributedPromiseCallEvent::Failed,
            DistributedPromiseError::Cancelled);
    // From the event loop: a caller's continuation may call again, and must not find this flight
    // half-decided.
    const QString key = flight->displayKey();
    cancelLater(std::move(gone),
        DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("the call of '%1' was cancelled").arg(key), key));
    return !callers.empty() || flight->background();
}

void Coordinator::armDeadline(Flight *flight)
{
    QDeadlineTimer earliest(QDeadlineTimer::Forever);
    for (const Caller &caller : flight->callers)
        earliest = std::min(earliest, caller.deadline);
    if (earliest.isForever()) {
        if (flight->deadlineTimer)
            flight->deadlineTimer->stop();
        return;
    }
    timerOf(flight, &Flight::deadlineTimer, &Coordinator::sweepCallers)
        ->start(std::max<qint64>(0, earliest.remainingTime()));
}

void Coordinator::sweepCallers(Flight *flight)
{
    // Callers whose deadline passed get Timeout; callers whose future was cancelled leave.
    std::vector<Caller> expired;
    std::vector<Caller> cancelled;
    auto &callers = flight->callers;
    for (auto it = callers.begin(); it != callers.end();) {
        if (it->waiter->isCanceled()) {
            cancelled.push_back(std::move(*it));
            it = callers.erase(it);
        } else if (it->deadline.hasExpired()) {
            expired.push_back(std::move(*it));
            it = callers.erase(it);
        } else {
            ++it;
        }
    }
    if (expired.empty() && cancelled.empty()) {
        // A coarse timer may fire a little early: wait for the deadline again.
        if (flight->deadlineTimer && !flight->deadlineTimer->isActive())
            armDeadline(flight);
        return;
    }
    const QString key = flight->displayKey();
    // What happens to the work, for the Timeout message: it only goes on where somebody runs it.
    QString fate;
    switch (flight->phase) {
    case Phase::Working:
    case Phase::Finishing:
        fate = QStringLiteral("the work goes on in this process and its result will be shared");
        break;
    case Phase::Waiting:
        fate = QStringLiteral("another process is still working on it");
        break;
    case Phase::Checking:
    case Phase::Acquiring:
        fate = callers.empty() ? QStringLiteral("nobody else waits for it, so it was not started")
                               : QStringLiteral("other callers still wait for it");
        break;
    }
    // A lock attempt on its way may win: then the flight stays to give the lock back.
    if (callers.empty() && flight->phase != Phase::Working && flight->phase != Phase::Finishing
        && !flight->acquiring && !flight->background())
        abandon(flight);
    else
        armDeadline(flight);
    m_stats[Counter::Errors] += expired.size();
    m_stats[Counter::Cancelled] += cancelled.size();
    for (const Caller &caller : cancelled)
        report(flight, caller, DistributedPromiseCallEvent::Failed,
            DistributedPromiseError::Cancelled);
    for (const Caller &caller : expired)
        report(
            flight, caller, DistributedPromiseCallEvent::Failed, DistributedPromiseError::Timeout);
    for (Caller &caller : cancelled)
        caller.waiter->fail(DistributedPromiseError(DistributedPromiseError::Cancelled,
            QStringLiteral("the call of '%1' was cancelled; the shared work goes on for the others")
                .arg(key),
            key));
    for (Caller &caller : expired) {
        caller.waiter->fail(DistributedPromiseError(DistributedPromiseError::Timeout,
            QStringLiteral("no result for '%1' within %2 ms (%3); raise the timeout to wait for it")
                .arg(key)
                .arg(caller.timeout.count())
                .arg(fate),
            key));
    }
}

void Coordinator::startSweeping()
{
    if (!m_sweepTimer.isActive())
        m_sweepTimer.start();
}

void Coordinator::sweepCancelled()
{
    // Only flights that can last long (waiting for another process, or working) are swept.
    if (forEachFlight(
            { Phase::Waiting, Phase::Working, Phase::Finishing }, &Coordinator::sweepCallers)
        == 0)
        m_sweepTimer.stop();
}

qsizetype Coordinator::forEachFlight(
    std::initializer_list<Phase> phases, void (Coordinator::*action)(Flight *))
{
    QList<quint64> chosen;
    for (const Flight *flight : std::as_const(m_byId)) {
        if (std::find(phases.begin(), phases.end(), flight->phase) != phases.end())
            chosen.append(flight->id);
    }
    // Each flight is looked up again before its turn: an action may end other flights, or, through
    // a caller's continuation, destroy this wrapper.
    QPointer<Coordinator> self(this);
    for (const quint64 id : std::as_const(chosen)) {
        if (!self)
            break;
        if (Flight *flight = find(id))
            (this->*action)(flight);
    }
    return chosen.size();
}

void Coordinator::detach(const QByteArray &identity)
{
    // The flight goes on for the callers it has; later calls, which can no longer find it,
    // start their own.
    m_flights.remove(identity);
}

std::unique_ptr<Coordinator::Flight> Coordinator::take(Flight *flight)
{
    // A detached flight's identity may belong to a newer flight by now.
    if (const auto it = m_flights.constFind(flight->identity);
        it != m_flights.cend() && it.value() == flight)
        m_flights.erase(it);
    m_byId.remove(flight->id);
    unsubscribe(flight);
    if (flight->holding) {
        flight->holding = false;
        m_keeper->release(flight->id);
    }
    // Stopped, and kept for the flight's next use.
    for (auto timer : { &Flight::deadlineTimer, &Flight::takeoverTimer, &Flight::finishRetryTimer,
             &Flight::softTimer }) {
        if (QTimer *t = (flight->*timer).get())
            t->stop();
    }
    return std::unique_ptr<Flight>(flight);
}

void Coordinator::unsubscribe(Flight *flight)
{
    if (!flight->subscribed)
        return;
    flight->subscribed = false;
    m_byChannel.remove(flight->keys.channel, flight);
    m_client->unsubscribe(flight->keys.channel);
}

void Coordinator::abandon(Flight *flight) { recycle(take(flight)); }

void Coordinator::recycle(std::unique_ptr<Flight> flight)
{
    constexpr size_t maxSpareFlights = 64;
    if (m_spareFlights.size() >= maxSpareFlights)
        return;
    // Cleared in place (no temporary Flight on the hit path): everything goes but the callers'
    // storage and the stopped timers, which only ever act on this flight object.
    Flight &f = *flight;
    f.callers.clear();
    f.identity = QByteArray();
    f.keys = DistributedPromiseProtocol::Keys();
    f.registration.reset();
    f.args = QJsonArray();
    if (!f.ancestors.isEmpty())
        f.ancestors = QList<QByteArray>();
    f.phase = Phase::Checking;
    f.token = QByteArray();
    f.awaited = QByteArray();
    f.announced = 0;
    f.announcedText = QString();
    f.subscribed = f.acquiring = f.reacquire = f.waitedBefore = f.local = f.holding
        = f.finishInFlight = f.wantsAge = false;
    f.refresh = Refresh::None;
    f.minRemaining = -1;
    f.generation = 0;
    f.workMs = -1;
    if (f.fallback.present)
        f.fallback = Fallback();
    if (!f.envelope.isEmpty()) {
        f.outcome = Outcome();
        f.envelope = QByteArray();
        f.storeMs = QByteArray();
    }
    m_spareFlights.push_back(std::move(flight));
}

template<typename Deliver>
void Coordinator::settle(
    Flight *flight, DistributedPromiseCallEvent::Outcome outcome, int errorCode, Deliver deliver)
{
    // Out of the tables first: callers' continuations may call again, and must start afresh.
    std::unique_ptr<Flight> done = take(flight);
    // A caller's continuation may destroy this wrapper.
    QPointer<Coordinator> self(this);
    for (Caller &caller : done->callers) {
        deliver(*caller.waiter);
        if (self)
            report(done.get(), caller, outcome, errorCode);
    }
    if (self)
        recycle(std::move(done));
}

DistributedPromiseCallEvent::Outcome Coordinator::outcomeOf(const Flight *flight) const
{
    if (flight->local)
        return DistributedPromiseCallEvent::Local;
    if (flight->phase == Phase::Working || flight->phase == Phase::Finishing)
        return flight->waitedBefore ? DistributedPromiseCallEvent::TookOver
                                    : DistributedPromiseCallEvent::Won;
    return flight->waitedBefore ? DistributedPromiseCallEvent::Waited
                                : DistributedPromiseCallEvent::Hit;
}

void Coordinator::report(const Flight *flight, const Caller &caller,
    DistributedPromiseCallEvent::Outcome outcome, int errorCode)
{
    if (!m_measuring)
        return;
    DistributedPromiseCallEvent event;
    event.key = flight->registration->key;
    event.outcome = outcome;
    event.coalesced = caller.coalesced;
    event.waitedMs = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - caller.since)
                         .count();
    event.workMs = flight->workMs;
    event.errorCode = errorCode;
    Q_EMIT callFinished(event);
}

void Coordinator::settleHit(Flight *flight, const QString &text)
{
    settle(flight, DistributedPromiseCallEvent::Hit, -1,
        [&text](Waiter &waiter) { waiter.resolveString(text); });
}

void Coordinator::settleValue(Flight *flight, const Outcome &outcome, bool stale, qint64 ageMs)
{
    settle(flight, stale ? DistributedPromiseCallEvent::Stale : outcomeOf(flight), -1,
        [this, &outcome, stale, ageMs](
            Waiter &waiter) { resolveWith(waiter, outcome, stale, ageMs); });
}

void Coordinator::finish(Flight *flight, const Outcome &outcome, qint64 ageMs)
{
    if (outcome.ok)
        return settleValue(flight, outcome, false, ageMs);
    if (flight->fallback.present && m_config.failSafe) {
        // failSafe: the refresh failed, the entry it started from stands (stale or not).
        qCWarning(lcDistributedPromise).noquote()
            << "the refresh of" << flight->displayKey() << "failed (" << outcome.message
            << "); its callers get the value it had, and it is tried again after a pause";
        ++m_stats[Counter::Errors];
        startFailSafePause(flight);
        const Fallback fallback = flight->fallback;
        if (fallback.stale)
            m_stats[Counter::Stale] += flight->callers.size();
        return settleValue(flight, fallback.outcome, fallback.stale, fallbackAge(flight));
    }
    for (const Caller &caller : flight->callers)
        ++m_stats[caller.waiter->isCanceled() ? Counter::Cancelled : Counter::Errors];
    const DistributedPromiseError error(outcome.code, outcome.message, flight->displayKey());
    settle(flight, DistributedPromiseCallEvent::Failed, outcome.code,
        [&error](Waiter &waiter) { waiter.fail(error); });
}

bool Coordinator::shutDown(const QString &reason, bool later)
{
    if (!m_client)
        return false;
    auto callers = std::make_shared<std::vector<Caller>>();
    const auto flights = m_byId;
    for (Flight *flight : flights) {
        switch (flight->phase) {
        case Phase::Acquiring:
        case Phase::Waiting:
            // A lock attempt still on its way is given back right behind it (same connection).
            if (flight->acquiring)
                releaseLock(flight->keys, flight->token);
            break;
        case Phase::Working:
            // Abandoned work: the lock goes back and the waiters take over at once.
            if (!flight->local)
                releaseLock(flight->keys, flight->token);
            break;
        case Phase::Finishing:
            // The outcome is known: one more try to share it.
            sendFinish(flight);
            break;
        case Phase::Checking:
            break;
        }
        std::unique_ptr<Flight> gone = take(flight);
        std::move(gone->callers.begin(), gone->callers.end(), std::back_inserter(*callers));
    }
    m_byChannel.clear();
    for (const auto &wrap : m_wraps) {
        for (Deferred &deferred : wrap.second->deferred)
            callers->push_back(
                { std::move(deferred.waiter), QDeadlineTimer(), {}, false, false, {} });
        wrap.second->deferred.clear();
    }
    m_client->flush(shutDownFlush);
    if (callers->empty())
        return false;
    m_stats[Counter::Errors] += callers->size();
    const DistributedPromiseError error(DistributedPromiseError::Cancelled,
        reason
            + QStringLiteral(" (the work was not finished here; if this process held it, "
                             "another one takes it over)"));
    if (later) {
        cancelLater(std::move(callers), error);
    } else {
        for (Caller &caller : *callers)
            caller.waiter->fail(error);
    }
    return true;
}

void Coordinator::cancelLater(
    std::shared_ptr<std::vector<Caller>> callers, const DistributedPromiseError &error)
{
    // Posted to the application, which outlives this object: should the event never be
    // delivered, its destruction still finishes the waiters (each fails itself when destroyed).
    const auto deliver = [callers, error] {
        for (Caller &caller : *callers)
            caller.waiter->fail(error);
    };
    if (QCoreApplication *app = QCoreApplication::instance())
        QMetaObject::invokeMethod(app, deliver, Qt::QueuedConnection);
    else
        deliver();
}

} // namespace DistributedPromiseDetail
