-- wrk script: print one machine-readable key=value line when the run is done.
-- (wrk itself runs LuaJIT; latency values are in microseconds)
done = function(summary, latency, requests)
  local e = summary.errors
  local errs = e.connect + e.read + e.write + e.status + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "mode=http requests=%d all_requests=%d secs=%.3f rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f errors=%d status_errors=%d timeouts=%d\n",
    summary.requests, summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    errs, e.status, e.timeout))
end
