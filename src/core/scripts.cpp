// SPDX-License-Identifier: MIT
#include "protocol_p.h"

namespace DistributedPromiseProtocol {

// The scripts never let a failed write stop what must happen: under maxmemory with noeviction
// the lock is still taken (allow-oom: a small key with a lease), the cache write is best effort
// (pcall) and unlock and publish always run (DEL, PEXPIRE and PUBLISH are allowed when out of
// memory). A key of another type than the one expected is read as absent or unreadable.

// KEYS: data. Returns the entry and the time it has left: {envelope, pttl}, nil when there is none,
// or the error GET gives (WRONGTYPE). A hit reads this instead of GET when it must tell fresh from
// stale (staleFor, eagerRefresh) or know the value's age.
const QByteArray readScript = QByteArrayLiteral(R"lua(#!lua flags=no-writes,allow-oom
local value = redis.pcall('GET', KEYS[1])
if type(value) == 'table' and value.err then return value end
if not value then return false end
return {value, redis.call('PTTL', KEYS[1])}
)lua");

// KEYS: data, lock, record. ARGV: token, lease ms, "1" to look at the cache first, the token of
// the execution this caller waits for ("" for a new caller), and the time (ms) a cached entry must
// have left to count (-1: any; a refresh passes staleFor, so that only a fresh entry counts), and
// "r" for refresh() (whose waiters must be told of a cached outcome too).
// Returns {1, envelope} (cached, or the awaited execution's cached outcome), {5, envelope} (the
// awaited execution's recorded outcome), {2} (lock taken: run the work), {3, lock pttl, holder's
// token} (busy; the record key is marked so that the holder records an uncached outcome for its
// waiters) or {4, error} (unreadable data key).
// A lock without expiry (left by another tool) gets the lease, so nobody waits on it forever.
const QByteArray acquireScript = QByteArrayLiteral(R"lua(#!lua flags=allow-oom
if ARGV[3] == '1' then
  local cached = redis.pcall('GET', KEYS[1])
  if type(cached) == 'table' and cached.err then return {4, cached.err} end
  if cached and (ARGV[5] == '-1' or redis.call('PTTL', KEYS[1]) > tonumber(ARGV[5])) then
    return {1, cached}
  end
end
if ARGV[4] ~= '' then
  local record = redis.pcall('GET', KEYS[3])
  local head = ARGV[4] .. ' '
  if type(record) == 'string' and string.sub(record, 1, #head) == head then
    if #record > #head then return {5, string.sub(record, #head + 1)} end
    local cached = redis.pcall('GET', KEYS[1])
    if type(cached) == 'string' then return {1, cached} end
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
local ttl = redis.call('PTTL', KEYS[2])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  ttl = tonumber(ARGV[2])
end
local holder = redis.pcall('GET', KEYS[2])
if type(holder) ~= 'string' then holder = '' end
if ARGV[6] == 'r' then
  local mark = redis.pcall('GET', KEYS[3])
  if not mark or mark == '' then redis.pcall('SET', KEYS[3], 'r', 'PX', ARGV[2]) end
else
  redis.pcall('SET', KEYS[3], '', 'NX', 'PX', ARGV[2])
end
return {3, ttl, holder}
)lua");

// KEYS: lock. ARGV: token, lease ms. Returns 1 while the token still holds the lock (the lease
// is extended), 0 when another attempt holds it, -1 when nobody does (the lease ran out).
const QByteArray renewScript = QByteArrayLiteral(R"lua(
local holder = redis.pcall('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if type(holder) == 'string' then return 0 end
return -1
)lua");

// KEYS: data, lock, record. ARGV: token, envelope, ttl ms, "1" to cache, channel, publish
// command, record ms.
// Returns {0} when another attempt holds the lock (nothing is written or published). Otherwise
// caches the envelope (values, when asked to; the waiters' mark goes, but a refresh's waiter,
// which cannot tell a new entry from the old one, gets "token " recorded) or, when a waiter marked
// the record key, records "token envelope" there for record ms (errors, ttl 0: what a waiter that
// missed the message finds); unlocks; publishes; returns {1, write error or "", publish error or
// ""}. A lock that
// ran out does not stop the finish, unless a value is cached meanwhile (a newer holder took over
// and finished: its value stands; the very envelope cached means this finish ran already and
// its reply was lost: done). PUBLISH is SPUBLISH on a cluster.
const QByteArray finishScript = QByteArrayLiteral(R"lua(
local holder = redis.pcall('GET', KEYS[2])
if type(holder) == 'string' and holder ~= ARGV[1] then return {0} end
if not holder and redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.pcall('GET', KEYS[1]) == ARGV[2] then return {1, '', ''} end
  return {0}
end
local written = true
if ARGV[4] == '1' and tonumber(ARGV[3]) > 0 then
  written = redis.pcall('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  local mark = redis.pcall('GETDEL', KEYS[3])
  if mark == 'r' then
    redis.pcall('SET', KEYS[3], ARGV[1] .. ' ', 'PX', ARGV[7])
  elseif type(mark) == 'table' then
    redis.call('DEL', KEYS[3])
  end
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  written = redis.pcall('SET', KEYS[3], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[7])
end
if holder == ARGV[1] then redis.call('DEL', KEYS[2]) end
local sent = redis.pcall(ARGV[6], ARGV[5], ARGV[2])
local writeError, sendError = '', ''
if type(written) == 'table' and written.err then writeError = written.err end
if type(sent) == 'table' and sent.err then sendError = sent.err end
return {1, writeError, sendError}
)lua");

// KEYS: lock. ARGV: token, channel, publish command, message. Gives the lock back (only if the
// token still holds it) and tells the waiters, who then try at once. Returns 1 when it unlocked.
const QByteArray releaseScript = QByteArrayLiteral(R"lua(
if redis.pcall('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.pcall(ARGV[3], ARGV[2], ARGV[4])
return 1
)lua");

// KEYS: data. ARGV: the unreadable bytes that were read. Deletes the entry only if it still holds
// them (a good value written meanwhile stays), or if it is not a string at all. Returns 1 when it
// deleted.
const QByteArray discardScript = QByteArrayLiteral(R"lua(
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
  return 0
end
if kind ~= 'none' then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

// KEYS: the generation key of a wrap key. ARGV: its channel, publish command. Starts the next
// generation (every entry of the wrap key is then out of reach), tells every process, and returns
// the new generation.
const QByteArray invalidateAllScript = QByteArrayLiteral(R"lua(#!lua flags=allow-oom
local generation = redis.call('INCR', KEYS[1])
redis.pcall(ARGV[2], ARGV[1], generation)
return generation
)lua");

// Not an envelope: readers of every version ignore it (with a warning, in the oldest).
const QByteArray abandonedMessage = QByteArrayLiteral("{\"v\":1,\"abandoned\":true}");

} // namespace DistributedPromiseProtocol
