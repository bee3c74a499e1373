package io.tether.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * The node's meters, exported in Prometheus format at {@code /metrics} (alongside Vert.x's own HTTP
 * and event-bus meters). Names are listed in the README.
 */
public final class TetherMetrics {

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Map<String, AtomicInteger> connections = new ConcurrentHashMap<>();
  private final Counter appends;
  private final Counter appendRefusals;
  private final Counter appendsResolved;
  private final Timer appendLatency;
  private final DistributionSummary replayEvents;
  private final DistributionSummary replayBytes;
  private final Counter ownershipClaims;
  private final Counter failovers;
  private final Counter slowConsumersCut;
  private final Counter passivations;
  private final Counter routeTimeouts;

  public TetherMetrics() {
    appends = Counter.builder("tether.appends").description("Appends accepted by stream owners on this node")
        .register(registry);
    appendRefusals = Counter.builder("tether.append.refusals").description("Appends refused (conflicts, fencing)")
        .register(registry);
    appendLatency = Timer.builder("tether.append.latency")
        .description("Owner-side append time: validation, ring append and synchronous backup")
        .publishPercentiles(0.5, 0.99).publishPercentileHistogram().register(registry);
    replayEvents = DistributionSummary.builder("tether.replay.events")
        .description("Events returned by a catch-up read or subscription replay").register(registry);
    replayBytes = DistributionSummary.builder("tether.replay.bytes").baseUnit("bytes")
        .description("Payload bytes returned by a catch-up read or subscription replay").register(registry);
    ownershipClaims = Counter.builder("tether.ownership.claims")
        .description("Streams whose ownership this node took (activation, failover, handover)").register(registry);
    failovers = Counter.builder("tether.failovers")
        .description("Streams taken over from a member that left the cluster").register(registry);
    slowConsumersCut = Counter.builder("tether.slow.consumers.cut")
        .description("Live connections closed because they could not keep up").register(registry);
    passivations = Counter.builder("tether.owner.passivations")
        .description("Stream owners retired after TETHER_OWNER_IDLE_SECONDS without activity").register(registry);
    appendsResolved = Counter.builder("tether.append.resolved")
        .description("Appends whose outcome Hazelcast could not tell (a member left, a backup did not confirm) that "
            + "the owner settled by sending them again, instead of answering outcome_unknown").register(registry);
    routeTimeouts = Counter.builder("tether.route.timeouts")
        .description("Times a request to a stream owner went unanswered past its attempt timeout (a retriable one "
            + "keeps waiting while the owner's member is alive, then is sent again; any other is answered 503 "
            + "outcome_unknown)").register(registry);
    // Heap, threads and CPU of this process, for the dashboard and the heap alert (k8s/monitoring).
    new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
    new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(registry);
    for (String transport : new String[] {"sse", "long-poll", "websocket"}) {
      connections(transport);
    }
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  public AtomicInteger connections(String transport) {
    return connections.computeIfAbsent(transport, t -> {
      AtomicInteger gauge = new AtomicInteger();
      Gauge.builder("tether.connections", gauge, AtomicInteger::get).tag("transport", t)
          .description("Open live connections by transport").register(registry);
      return gauge;
    });
  }

  public int totalConnections() {
    return connections.values().stream().mapToInt(AtomicInteger::get).sum();
  }

  public void passivated() {
    passivations.increment();
  }

  public void appended(long nanos) {
    appends.increment();
    appendLatency.record(nanos, TimeUnit.NANOSECONDS);
  }

  public void appendRefused() {
    appendRefusals.increment();
  }

  public void appendResolved() {
    appendsResolved.increment();
  }

  public void replayed(int events, long bytes) {
    replayEvents.record(events);
    replayBytes.record(bytes);
  }

  public void claimed(boolean failover) {
    ownershipClaims.increment();
    if (failover) {
      failovers.increment();
    }
  }

  public void routeTimedOut() {
    routeTimeouts.increment();
  }

  public void slowConsumerCut() {
    slowConsumersCut.increment();
  }

  /** A turn's generation event on this node: started, completed, stopped, failed, or resumed (with its reason). */
  public void generation(String event, String reason) {
    Counter.builder("tether.generations").description("Generation events of the sessions owned here")
        .tag("event", event).tag("reason", reason == null ? "" : reason).register(registry).increment();
  }

  /** A tool call reached an outcome: completed, failed or denied. */
  public void toolCall(String outcome) {
    Counter.builder("tether.tool.calls").description("Tool calls by outcome").tag("outcome", outcome)
        .register(registry).increment();
  }

  /** Time from a model call to its first token (or tool call). */
  public void firstToken(long nanos) {
    Timer.builder("tether.model.first.token").description("Model call to its first token")
        .publishPercentiles(0.5, 0.99).register(registry).record(nanos, TimeUnit.NANOSECONDS);
  }

  /**
   * A client was refused or cut off to protect the node: per-address connection limit, header, idle or
   * body timeout, body budget, oversized body, slow WebSocket writer.
   */
  public void clientRefused(String reason) {
    Counter.builder("tether.client.refusals").description("Requests refused and connections closed to protect the node")
        .tag("reason", reason).register(registry).increment();
  }

  /** Registers a gauge computed on scrape. */
  public void gauge(String name, String description, Supplier<Number> value) {
    Gauge.builder(name, value).description(description).register(registry);
  }
}
