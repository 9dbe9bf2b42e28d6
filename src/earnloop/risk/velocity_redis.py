"""The Redis velocity backend: the same answers as :class:`~earnloop.risk.velocity.MemoryVelocity`, shared
by every process, in ONE round trip per event (a Lua script reads every feature, then adds the event).

Each (stream, entity value) is a sorted set: score = the event's time in ms, member = ``ref␟amount␟other``
(see :func:`~earnloop.risk.velocity.member`). Adding trims the set to its stream's longest window and to
:data:`~earnloop.risk.velocity.ENTRIES_PER_KEY_MAX` members, and sets its expiry to that window (plus a
margin), so an idle entity's key disappears by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from earnloop.risk.events import RiskEvent
from earnloop.risk.velocity import (
    ENTRIES_PER_KEY_MAX,
    Plan,
    VelocitySpec,
    clean,
    event_ms,
    member,
)

KEY_PREFIX = "earnloop:velocity:"
EXPIRY_MARGIN_MS = 3_600_000
_AGGREGATE_CODES = {"count": "c", "sum": "s", "distinct": "d", "match": "m"}

# KEYS: one sorted set per stream the event has a value for. ARGV: at_ms, the feature count, then per
# feature (key index or 0, aggregate code, window ms, this event's ``of`` value), then per key (add?,
# member, keep ms, expiry ms). Returns one integer per feature.
_SCRIPT = r"""
local at = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local out = {}
local p = 4
for i = 1, n do
  local k, agg, w, mine = tonumber(ARGV[p]), ARGV[p + 1], tonumber(ARGV[p + 2]), ARGV[p + 3]
  p = p + 4
  local v = 0
  if k > 0 then
    local low = '(' .. string.format('%d', at - w)
    if agg == 'c' then
      v = redis.call('ZCOUNT', KEYS[k], low, ARGV[1])
    else
      local members = redis.call('ZRANGEBYSCORE', KEYS[k], low, ARGV[1])
      local seen = {}
      for _, m in ipairs(members) do
        if agg == 's' then
          v = v + tonumber(string.match(m, '^[^\31]*\31(-?%d+)\31'))
        else
          local other = string.match(m, '^[^\31]*\31[^\31]*\31(.*)$')
          if agg == 'd' then
            if not seen[other] then seen[other] = true; v = v + 1 end
          elseif other == mine then
            v = v + 1
          end
        end
      end
    end
  end
  out[i] = v
end
for j = 1, #KEYS do
  if ARGV[p] == '1' then
    redis.call('ZADD', KEYS[j], 'NX', ARGV[1], ARGV[p + 1])
    redis.call('ZREMRANGEBYSCORE', KEYS[j], '-inf', string.format('%d', at - tonumber(ARGV[p + 2])))
    redis.call('ZREMRANGEBYRANK', KEYS[j], 0, -(cap + 1))
    redis.call('PEXPIRE', KEYS[j], ARGV[p + 3])
  end
  p = p + 4
end
return out
"""


class RedisVelocity:
    """Velocity windows in Redis (``EARNLOOP_RISK_VELOCITY=redis``, at ``EARNLOOP_REDIS_URL``)."""

    def __init__(self, specs: Sequence[VelocitySpec], client: redis.Redis, *, prefix: str = KEY_PREFIX):
        self.plan = Plan.of(specs)
        self.specs = self.plan.specs
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SCRIPT)

    @classmethod
    def from_url(cls, specs: Sequence[VelocitySpec], url: str, *, prefix: str = KEY_PREFIX) -> RedisVelocity:
        return cls(specs, redis.Redis.from_url(url, socket_timeout=2), prefix=prefix)

    def read_and_add(self, event: RiskEvent) -> dict[str, int]:
        keys, key_index, key_args = self._keys(event)
        args: list[Any] = [event_ms(event), len(self.specs), ENTRIES_PER_KEY_MAX]
        for spec, stream_index in zip(self.specs, self.plan.stream_of, strict=True):
            mine = event.keys.get(spec.of) if spec.of is not None else None
            code = _AGGREGATE_CODES[spec.aggregate]
            args += [key_index.get(stream_index, 0), code, spec.window_s * 1000, clean(mine or "")]
        values = self._script(keys=keys, args=args + key_args)
        return {spec.name: int(value) for spec, value in zip(self.specs, values, strict=True)}

    def _keys(self, event: RiskEvent) -> tuple[list[str], dict[int, int], list[Any]]:
        """The sorted sets this event reads or joins (1-based index per stream), and their add args."""
        keys: list[str] = []
        key_index: dict[int, int] = {}
        key_args: list[Any] = []
        for index, stream in enumerate(self.plan.streams):
            value = event.keys.get(stream.key)
            if value is None:
                continue
            keys.append(f"{self.prefix}{stream.label}|{clean(value)}")
            key_index[index] = len(keys)
            other = event.keys.get(stream.of) if stream.of is not None else ""
            adds = event.kind in stream.kinds and other is not None
            keep_ms = self.plan.keep_ms[index]
            key_args += [
                "1" if adds else "0",
                member(event, clean(other or "")),
                keep_ms,
                keep_ms + EXPIRY_MARGIN_MS,
            ]
        return keys, key_index, key_args
