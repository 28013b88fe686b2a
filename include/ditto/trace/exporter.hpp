#pragma once

// The OTLP/HTTP span exporter (docs/observability.md, "Tracing"): requests hand finished traces
// to a bounded queue and go on; a loop on the background executor posts them as JSON to
// `--otel-endpoint` in batches. A full queue drops spans (counted), a failed or slow export
// drops its batch (counted): no request ever waits for the collector.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ditto/trace/otlp_json.hpp"
#include "ditto/trace/span.hpp"

namespace ditto::trace {

struct exporter_options {
    std::string endpoint;  ///< http[s]://host[:port][/path]; no path: /v1/traces
    std::vector<std::pair<std::string, std::string>> headers;  ///< sent with every export
    resource_info resource;
    std::size_t max_queue_spans = 4096;        ///< beyond: dropped
    std::size_t max_batch_spans = 512;         ///< per POST; a full batch is sent at once
    std::chrono::milliseconds interval{1000};  ///< otherwise sent this often
    std::chrono::milliseconds timeout{5000};   ///< connect + answer, per POST
};

struct exporter_stats {
    std::uint64_t exported = 0;        ///< spans the collector accepted (2xx)
    std::uint64_t dropped_full = 0;    ///< spans refused by a full queue
    std::uint64_t dropped_failed = 0;  ///< spans of batches that failed or were refused
};

class otlp_exporter final : public span_sink {
  public:
    /// Throws std::invalid_argument for an endpoint that is not an http(s) URL.
    otlp_exporter(exporter_options options, boost::asio::any_io_executor ex);
    ~otlp_exporter() override;

    void submit(std::shared_ptr<pending_trace> t) noexcept override;
    void start();
    /// Ends the loop (any thread): what is queued is sent once more, within the timeout.
    void stop();
    exporter_stats stats() const;

    struct impl;  ///< exporter.cpp

  private:
    std::shared_ptr<impl> impl_;
};

/// The endpoint's target path: the URL's path, or /v1/traces when it has none (as
/// OTEL_EXPORTER_OTLP_ENDPOINT is read). Empty when the URL is unusable.
std::string otlp_traces_path(std::string_view endpoint);

}  // namespace ditto::trace
