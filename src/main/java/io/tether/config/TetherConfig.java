package io.tether.config;

import io.tether.stream.RingLimits;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;

/**
 * Every setting of a Tether node, in one immutable record. Values come from environment variables
 * ({@code TETHER_*}), optionally from a properties file named by {@code TETHER_CONFIG} (same keys;
 * environment wins), else the defaults below. The README's configuration table lists the same keys.
 *
 * @param nodeId               this node's id on the event bus and in the cluster ({@code TETHER_NODE_ID})
 * @param httpHost             HTTP listen address ({@code TETHER_HTTP_HOST})
 * @param httpPort             HTTP port ({@code TETHER_HTTP_PORT})
 * @param clusterName          members join only a cluster of the same name ({@code TETHER_CLUSTER_NAME})
 * @param clusterHost          address Hazelcast and the event bus bind to; empty binds all ({@code TETHER_CLUSTER_HOST})
 * @param clusterPort          Hazelcast member port ({@code TETHER_CLUSTER_PORT})
 * @param clusterMembers       comma-separated TCP-IP join list ({@code TETHER_CLUSTER_MEMBERS})
 * @param discovery            {@code tcp}, {@code kubernetes} (DNS) or {@code kubernetes-api} ({@code TETHER_DISCOVERY})
 * @param kubernetesService    headless service for Kubernetes DNS discovery ({@code TETHER_K8S_SERVICE_DNS})
 * @param kubernetesServiceName service whose endpoints Kubernetes API discovery lists ({@code TETHER_K8S_SERVICE_NAME})
 * @param kubernetesNamespace  namespace for API discovery; empty: the pod's own ({@code TETHER_K8S_NAMESPACE})
 * @param clusterConfig        path of the Hazelcast config; empty means {@code ./cluster.xml} or the bundled copy
 * @param ringMaxEvents        events retained per stream ({@code TETHER_RING_MAX_EVENTS})
 * @param ringMaxBytes         payload bytes retained per stream ({@code TETHER_RING_MAX_BYTES})
 * @param maxAppendBytes       largest request body ({@code TETHER_MAX_APPEND_BYTES})
 * @param maxReadBytes         payload bytes per catch-up response ({@code TETHER_MAX_READ_BYTES})
 * @param heartbeatSeconds     SSE comment / WebSocket ping and application heartbeat interval
 * @param leaseSeconds         how often a node renews, with each stream's owner, the leases of its live
 *                             readers and present devices; the owner drops a lease not renewed for three
 *                             intervals ({@code TETHER_LEASE_SECONDS}). Node to node only: independent of
 *                             the heartbeat clients and proxies see
 * @param longPollSeconds      how long a long-poll waits before answering 204 ({@code TETHER_LONG_POLL_SECONDS})
 * @param maxConnections       concurrent live connections (SSE, long-poll, WebSocket) per node
 * @param eventLoops           Vert.x event-loop threads (HTTP, owners, subscriptions); {@code TETHER_EVENT_LOOPS}
 * @param adminToken           bearer token for {@code /v1/admin}; empty leaves it open
 * @param corsOrigins          allowed CORS origins, {@code *} for any
 * @param requestTimeoutMillis one hop to a stream owner: a plain append is reported after it; a retriable request waits on
 *                             for a live owner and is resent this long before the route deadline
 * @param routeDeadlineMillis  total time a request may spend finding its owner (failover included)
 * @param apiKey               backend credential for creating sessions and minting tokens; empty leaves it open ({@code TETHER_API_KEY})
 * @param tokenSecret          HS256 secret signing session tokens (32+ characters); empty: generated and shared through the cluster ({@code TETHER_TOKEN_SECRET})
 * @param tokenTtlSeconds      lifetime of a session token unless the request asks for less ({@code TETHER_TOKEN_TTL_SECONDS})
 * @param model                {@code simulated} (built in) or {@code openai} (any OpenAI-compatible endpoint) ({@code TETHER_MODEL})
 * @param modelBaseUrl         base URL of the OpenAI-compatible API ({@code TETHER_MODEL_BASE_URL})
 * @param modelName            model name sent upstream ({@code TETHER_MODEL_NAME})
 * @param modelApiKey          bearer key for the upstream model ({@code TETHER_MODEL_API_KEY})
 * @param modelConnectTimeoutMillis upstream connect timeout ({@code TETHER_MODEL_CONNECT_TIMEOUT_MS})
 * @param modelIdleTimeoutMillis longest upstream silence while streaming ({@code TETHER_MODEL_IDLE_TIMEOUT_MS})
 * @param modelRetries         retries of an upstream call that failed before its first token ({@code TETHER_MODEL_RETRIES})
 * @param simTokensPerSecond   words per second of the simulated model ({@code TETHER_SIM_TOKENS_PER_SECOND})
 * @param simAnswerWords       length of a simulated answer, in words ({@code TETHER_SIM_ANSWER_WORDS})
 * @param simThinkSeconds      simulated pause before every answer ({@code TETHER_SIM_THINK_SECONDS})
 * @param coalesceMillis       window in which token deltas are merged into one append ({@code TETHER_COALESCE_MS})
 * @param systemPrompt         system message sent first in every completion ({@code TETHER_SYSTEM_PROMPT})
 * @param toolsFile            JSON file of tool definitions; empty: the simulated model's demo tool ({@code TETHER_TOOLS_FILE})
 * @param toolWebhookUrl       where webhook tools are POSTed ({@code TETHER_TOOL_WEBHOOK_URL})
 * @param toolWebhookToken     bearer token sent to the tool webhook ({@code TETHER_TOOL_WEBHOOK_TOKEN})
 * @param toolTimeoutMillis    timeout of one webhook tool call ({@code TETHER_TOOL_TIMEOUT_MS})
 * @param streamAuth           who may create, append to, delete and fork plain streams, and read them ({@code TETHER_STREAM_AUTH})
 * @param metricsToken         bearer token for {@code /metrics}; empty leaves it open ({@code TETHER_METRICS_TOKEN})
 * @param maxConnectionsPerIp  concurrent TCP connections from one client address; 0: no limit ({@code TETHER_MAX_CONNECTIONS_PER_IP})
 * @param headerTimeoutMillis  a new connection must send a whole request head within this ({@code TETHER_HEADER_TIMEOUT_MS})
 * @param idleTimeoutSeconds   a kept-alive connection with no request in progress is closed after this ({@code TETHER_IDLE_TIMEOUT_SECONDS})
 * @param bodyTimeoutMillis    longest silence while a request body arrives ({@code TETHER_BODY_TIMEOUT_MS})
 * @param maxBodyBufferBytes   request-body bytes the node holds at once, over all requests ({@code TETHER_MAX_BODY_BUFFER_BYTES})
 * @param maxStreamsPerNode    streams whose primary copy one member holds; creating more is refused ({@code TETHER_MAX_STREAMS_PER_NODE})
 * @param eventBusPort         port of the clustered event bus; 0 picks a free one ({@code TETHER_EVENTBUS_PORT})
 * @param clusterTlsCert       PEM certificate of the cluster; when set, the event bus runs over mutual TLS ({@code TETHER_CLUSTER_TLS_CERT})
 * @param clusterTlsKey        PEM private key of that certificate ({@code TETHER_CLUSTER_TLS_KEY})
 * @param clusterTlsCa         PEM certificates trusted for peers; empty: the cluster certificate itself ({@code TETHER_CLUSTER_TLS_CA})
 * @param clusterQuorum        members (this one included) a node must be in touch with to serve; 1 turns the split-brain
 *                             protection off. Default: a majority of a TCP-IP member list of three or more, else 1
 *                             ({@code TETHER_CLUSTER_QUORUM}; set it on Kubernetes, e.g. 2 for 3 replicas)
 * @param minReplicas          copies of a stream's partition (primary included) that must exist for a write to be
 *                             taken, like Kafka's min.insync.replicas. Default: 2 when the quorum is above 1, else 1
 *                             ({@code TETHER_MIN_REPLICAS})
 * @param ownerIdleSeconds     a stream owner with no request, live reader or work in progress for this long retires
 *                             (passivates) until the next request; 0 keeps owners forever ({@code TETHER_OWNER_IDLE_SECONDS})
 */
public record TetherConfig(
    String nodeId,
    String httpHost,
    int httpPort,
    String clusterName,
    String clusterHost,
    int clusterPort,
    String clusterMembers,
    String discovery,
    String kubernetesService,
    String kubernetesServiceName,
    String kubernetesNamespace,
    String clusterConfig,
    int ringMaxEvents,
    long ringMaxBytes,
    int maxAppendBytes,
    int maxReadBytes,
    int heartbeatSeconds,
    int leaseSeconds,
    int longPollSeconds,
    int maxConnections,
    int eventLoops,
    String adminToken,
    String corsOrigins,
    long requestTimeoutMillis,
    long routeDeadlineMillis,
    String apiKey,
    String tokenSecret,
    long tokenTtlSeconds,
    String model,
    String modelBaseUrl,
    String modelName,
    String modelApiKey,
    long modelConnectTimeoutMillis,
    long modelIdleTimeoutMillis,
    int modelRetries,
    int simTokensPerSecond,
    int simAnswerWords,
    int simThinkSeconds,
    long coalesceMillis,
    String systemPrompt,
    String toolsFile,
    String toolWebhookUrl,
    String toolWebhookToken,
    long toolTimeoutMillis,
    StreamAuth streamAuth,
    String metricsToken,
    int maxConnectionsPerIp,
    long headerTimeoutMillis,
    int idleTimeoutSeconds,
    long bodyTimeoutMillis,
    long maxBodyBufferBytes,
    int maxStreamsPerNode,
    int eventBusPort,
    String clusterTlsCert,
    String clusterTlsKey,
    String clusterTlsCa,
    int clusterQuorum,
    int minReplicas,
    int ownerIdleSeconds) {

  public TetherConfig {
    require(httpPort >= 0 && httpPort <= 65535, "TETHER_HTTP_PORT must be a port number");
    require(!clusterName.isBlank(), "TETHER_CLUSTER_NAME must not be empty");
    require(clusterPort > 0 && clusterPort <= 65535, "TETHER_CLUSTER_PORT must be a port number");
    require(ringMaxEvents >= 1, "TETHER_RING_MAX_EVENTS must be at least 1");
    require(maxAppendBytes >= 1, "TETHER_MAX_APPEND_BYTES must be at least 1");
    require(ringMaxBytes >= maxAppendBytes, "TETHER_RING_MAX_BYTES must be at least TETHER_MAX_APPEND_BYTES");
    require(maxReadBytes >= 1, "TETHER_MAX_READ_BYTES must be at least 1");
    require(heartbeatSeconds >= 1, "TETHER_HEARTBEAT_SECONDS must be at least 1");
    require(leaseSeconds >= 1, "TETHER_LEASE_SECONDS must be at least 1");
    require(longPollSeconds >= 1, "TETHER_LONG_POLL_SECONDS must be at least 1");
    require(maxConnections >= 1, "TETHER_MAX_CONNECTIONS must be at least 1");
    require(eventLoops >= 1, "TETHER_EVENT_LOOPS must be at least 1");
    require(requestTimeoutMillis >= 100, "TETHER_REQUEST_TIMEOUT_MS must be at least 100");
    require(routeDeadlineMillis >= requestTimeoutMillis, "TETHER_ROUTE_DEADLINE_MS must be at least TETHER_REQUEST_TIMEOUT_MS");
    require(discovery.equals("tcp") || discovery.equals("kubernetes") || discovery.equals("kubernetes-api"),
        "TETHER_DISCOVERY must be tcp, kubernetes or kubernetes-api");
    require(tokenSecret.isEmpty() || tokenSecret.length() >= 32, "TETHER_TOKEN_SECRET must have at least 32 characters");
    require(tokenTtlSeconds >= 1, "TETHER_TOKEN_TTL_SECONDS must be at least 1");
    require(model.equals("simulated") || model.equals("openai"), "TETHER_MODEL must be simulated or openai");
    require(modelConnectTimeoutMillis >= 1 && modelIdleTimeoutMillis >= 1, "model timeouts must be positive");
    require(modelRetries >= 0, "TETHER_MODEL_RETRIES must not be negative");
    require(simTokensPerSecond >= 1, "TETHER_SIM_TOKENS_PER_SECOND must be at least 1");
    require(simAnswerWords >= 1, "TETHER_SIM_ANSWER_WORDS must be at least 1");
    require(simThinkSeconds >= 0, "TETHER_SIM_THINK_SECONDS must not be negative");
    require(coalesceMillis >= 1 && coalesceMillis <= 1_000, "TETHER_COALESCE_MS must be between 1 and 1000");
    require(toolTimeoutMillis >= 1, "TETHER_TOOL_TIMEOUT_MS must be positive");
    require(streamAuth == StreamAuth.OPEN || !apiKey.isEmpty(),
        "TETHER_STREAM_AUTH=" + streamAuth.setting() + " needs TETHER_API_KEY (it mints the stream tokens)");
    require(maxConnectionsPerIp >= 0, "TETHER_MAX_CONNECTIONS_PER_IP must not be negative");
    require(headerTimeoutMillis >= 100, "TETHER_HEADER_TIMEOUT_MS must be at least 100");
    require(idleTimeoutSeconds >= 1, "TETHER_IDLE_TIMEOUT_SECONDS must be at least 1");
    require(bodyTimeoutMillis >= 100, "TETHER_BODY_TIMEOUT_MS must be at least 100");
    require(maxBodyBufferBytes >= maxAppendBytes, "TETHER_MAX_BODY_BUFFER_BYTES must be at least TETHER_MAX_APPEND_BYTES");
    require(maxStreamsPerNode >= 1, "TETHER_MAX_STREAMS_PER_NODE must be at least 1");
    require(eventBusPort >= 0 && eventBusPort <= 65535, "TETHER_EVENTBUS_PORT must be a port number");
    require(clusterTlsCert.isEmpty() == clusterTlsKey.isEmpty(),
        "TETHER_CLUSTER_TLS_CERT and TETHER_CLUSTER_TLS_KEY are set together");
    require(clusterTlsCa.isEmpty() || !clusterTlsCert.isEmpty(), "TETHER_CLUSTER_TLS_CA needs TETHER_CLUSTER_TLS_CERT");
    require(clusterQuorum >= 1, "TETHER_CLUSTER_QUORUM must be at least 1");
    require(minReplicas == 1 || minReplicas == 2, "TETHER_MIN_REPLICAS must be 1 or 2 (the streams map keeps one backup)");
    require(ownerIdleSeconds >= 0, "TETHER_OWNER_IDLE_SECONDS must not be negative");
  }

  /** Defaults for a local run. */
  public static TetherConfig defaults() {
    return fromMap(Map.of());
  }

  /** Reads the process environment (and the optional file it names). */
  public static TetherConfig fromEnvironment() {
    Map<String, String> values = new HashMap<>();
    String file = System.getenv("TETHER_CONFIG");
    if (file != null && !file.isBlank()) {
      values.putAll(readProperties(Path.of(file)));
    }
    System.getenv().forEach((k, v) -> {
      if (k.startsWith("TETHER_")) {
        values.put(k, v);
      }
    });
    return fromMap(values);
  }

  /** Builds a config from {@code TETHER_*} keys; missing keys take their defaults. */
  public static TetherConfig fromMap(Map<String, String> values) {
    Reader reader = new Reader(values);
    int quorum = reader.integer("TETHER_CLUSTER_QUORUM", defaultQuorum(
        reader.string("TETHER_DISCOVERY", "tcp").toLowerCase(Locale.ROOT), reader.string("TETHER_CLUSTER_MEMBERS", "127.0.0.1")));
    return new TetherConfig(
        reader.string("TETHER_NODE_ID", "node-" + UUID.randomUUID().toString().substring(0, 8)),
        reader.string("TETHER_HTTP_HOST", "0.0.0.0"),
        reader.integer("TETHER_HTTP_PORT", 8080),
        reader.string("TETHER_CLUSTER_NAME", "tether"),
        reader.string("TETHER_CLUSTER_HOST", "127.0.0.1"),
        reader.integer("TETHER_CLUSTER_PORT", 5701),
        reader.string("TETHER_CLUSTER_MEMBERS", "127.0.0.1"),
        reader.string("TETHER_DISCOVERY", "tcp").toLowerCase(Locale.ROOT),
        reader.string("TETHER_K8S_SERVICE_DNS", "tether-hazelcast"),
        reader.string("TETHER_K8S_SERVICE_NAME", "tether-hazelcast"),
        reader.string("TETHER_K8S_NAMESPACE", ""),
        reader.string("TETHER_CLUSTER_CONFIG", ""),
        reader.integer("TETHER_RING_MAX_EVENTS", 10_000),
        reader.longValue("TETHER_RING_MAX_BYTES", 64L << 20),
        reader.integer("TETHER_MAX_APPEND_BYTES", 4 << 20),
        reader.integer("TETHER_MAX_READ_BYTES", 1 << 20),
        reader.integer("TETHER_HEARTBEAT_SECONDS", 20),
        reader.integer("TETHER_LEASE_SECONDS", 20),
        reader.integer("TETHER_LONG_POLL_SECONDS", 15),
        reader.integer("TETHER_MAX_CONNECTIONS", 10_000),
        reader.integer("TETHER_EVENT_LOOPS", defaultEventLoops(Runtime.getRuntime().availableProcessors())),
        reader.string("TETHER_ADMIN_TOKEN", ""),
        reader.string("TETHER_CORS_ORIGINS", "*"),
        reader.longValue("TETHER_REQUEST_TIMEOUT_MS", 1_500),
        reader.longValue("TETHER_ROUTE_DEADLINE_MS", 10_000),
        reader.string("TETHER_API_KEY", ""),
        reader.string("TETHER_TOKEN_SECRET", ""),
        reader.longValue("TETHER_TOKEN_TTL_SECONDS", 86_400),
        reader.string("TETHER_MODEL", "simulated"),
        reader.string("TETHER_MODEL_BASE_URL", "https://api.openai.com/v1"),
        reader.string("TETHER_MODEL_NAME", "gpt-4o-mini"),
        reader.string("TETHER_MODEL_API_KEY", ""),
        reader.longValue("TETHER_MODEL_CONNECT_TIMEOUT_MS", 5_000),
        reader.longValue("TETHER_MODEL_IDLE_TIMEOUT_MS", 120_000),
        reader.integer("TETHER_MODEL_RETRIES", 3),
        reader.integer("TETHER_SIM_TOKENS_PER_SECOND", 30),
        reader.integer("TETHER_SIM_ANSWER_WORDS", 60),
        reader.integer("TETHER_SIM_THINK_SECONDS", 0),
        reader.longValue("TETHER_COALESCE_MS", 15),
        reader.string("TETHER_SYSTEM_PROMPT", ""),
        reader.string("TETHER_TOOLS_FILE", ""),
        reader.string("TETHER_TOOL_WEBHOOK_URL", ""),
        reader.string("TETHER_TOOL_WEBHOOK_TOKEN", ""),
        reader.longValue("TETHER_TOOL_TIMEOUT_MS", 30_000),
        StreamAuth.parse(reader.string("TETHER_STREAM_AUTH", "open")),
        reader.string("TETHER_METRICS_TOKEN", ""),
        reader.integer("TETHER_MAX_CONNECTIONS_PER_IP", 256),
        reader.longValue("TETHER_HEADER_TIMEOUT_MS", 10_000),
        reader.integer("TETHER_IDLE_TIMEOUT_SECONDS", 75),
        reader.longValue("TETHER_BODY_TIMEOUT_MS", 10_000),
        reader.longValue("TETHER_MAX_BODY_BUFFER_BYTES", defaultBodyBuffer()),
        reader.integer("TETHER_MAX_STREAMS_PER_NODE", defaultMaxStreams()),
        reader.integer("TETHER_EVENTBUS_PORT", 0),
        reader.string("TETHER_CLUSTER_TLS_CERT", ""),
        reader.string("TETHER_CLUSTER_TLS_KEY", ""),
        reader.string("TETHER_CLUSTER_TLS_CA", ""),
        quorum,
        reader.integer("TETHER_MIN_REPLICAS", quorum > 1 ? 2 : 1),
        reader.integer("TETHER_OWNER_IDLE_SECONDS", 60));
  }

  /**
   * A majority of the TCP-IP member list when it names three members or more. Two members cannot tell a
   * crash of the other from a partition, so a quorum of two would stop the survivor of any failure; with
   * Kubernetes discovery the member count is not known here and the manifest sets the quorum.
   */
  static int defaultQuorum(String discovery, String members) {
    if (!discovery.equals("tcp")) {
      return 1;
    }
    long listed = java.util.Arrays.stream(members.split(",")).map(String::trim).filter(m -> !m.isEmpty()).count();
    return listed >= 3 ? (int) (listed / 2 + 1) : 1;
  }

  /**
   * Half the cores, at least one. An append runs on up to three event loops (the writer's connection, the
   * stream's owner, each reader's connection) and on a Hazelcast partition thread; every change of loop is
   * a cross-thread hand-off with a wake-up. Fewer loops make it likelier that those are one thread, and
   * the other half of the cores serve Hazelcast's partition threads (one per core, two at least), the
   * garbage collector and the JIT. On two cores one loop measured 17% less CPU per append than two and a
   * higher peak append rate (docs/benchmarks/cpu.md, "One event loop per two cores").
   */
  static int defaultEventLoops(int cores) {
    return Math.max(1, cores / 2);
  }

  /** A quarter of the heap, at most 256 MiB: request bodies never crowd out the streams themselves. */
  private static long defaultBodyBuffer() {
    return Math.max(4L << 20, Math.min(256L << 20, Runtime.getRuntime().maxMemory() / 4));
  }

  /**
   * One stream per 32 KiB of heap: an idle stream with a small ring costs 5-15 KiB per copy (primary and
   * backup live on different members, so a member holds about as many backups as primaries).
   */
  private static int defaultMaxStreams() {
    return (int) Math.max(1_000, Math.min(Integer.MAX_VALUE, Runtime.getRuntime().maxMemory() / (32 << 10)));
  }

  public RingLimits ringLimits() {
    return new RingLimits(ringMaxEvents, ringMaxBytes);
  }

  public boolean adminProtected() {
    return !adminToken.isEmpty();
  }

  /**
   * What anyone who reaches this node may use without a credential, as configured; empty when every
   * surface is protected. The node logs it once, at WARN, when it starts.
   */
  public java.util.List<String> openToAnyone() {
    java.util.List<String> open = new java.util.ArrayList<>();
    if (apiKey.isEmpty()) {
      open.add("creating sessions, and so model calls (TETHER_API_KEY is not set)");
    }
    if (streamAuth == StreamAuth.OPEN) {
      open.add("creating, appending to, deleting and forking plain streams (TETHER_STREAM_AUTH=open)");
    }
    if (adminToken.isEmpty()) {
      open.add("/v1/admin (TETHER_ADMIN_TOKEN is not set)");
    }
    if (metricsToken.isEmpty()) {
      open.add("/metrics (TETHER_METRICS_TOKEN is not set)");
    }
    if (!clusterTls() && !isLoopback(clusterHost)) {
      open.add("the event bus on " + (clusterHost.isEmpty() ? "every interface" : clusterHost)
          + " (TETHER_CLUSTER_TLS_CERT is not set)");
    }
    return open;
  }

  private static boolean isLoopback(String host) {
    return host.equals("localhost") || host.startsWith("127.") || host.equals("::1");
  }

  public boolean clusterTls() {
    return !clusterTlsCert.isEmpty();
  }

  /** The same config with other values; used by tests and the local cluster script. */
  public TetherConfig with(Map<String, String> overrides) {
    Map<String, String> values = new HashMap<>(asMap());
    values.putAll(overrides);
    return fromMap(values);
  }

  /** The config as {@code TETHER_*} keys. */
  public Map<String, String> asMap() {
    Map<String, String> m = new HashMap<>();
    m.put("TETHER_NODE_ID", nodeId);
    m.put("TETHER_HTTP_HOST", httpHost);
    m.put("TETHER_HTTP_PORT", Integer.toString(httpPort));
    m.put("TETHER_CLUSTER_NAME", clusterName);
    m.put("TETHER_CLUSTER_HOST", clusterHost);
    m.put("TETHER_CLUSTER_PORT", Integer.toString(clusterPort));
    m.put("TETHER_CLUSTER_MEMBERS", clusterMembers);
    m.put("TETHER_DISCOVERY", discovery);
    m.put("TETHER_K8S_SERVICE_DNS", kubernetesService);
    m.put("TETHER_K8S_SERVICE_NAME", kubernetesServiceName);
    m.put("TETHER_K8S_NAMESPACE", kubernetesNamespace);
    m.put("TETHER_CLUSTER_CONFIG", clusterConfig);
    m.put("TETHER_RING_MAX_EVENTS", Integer.toString(ringMaxEvents));
    m.put("TETHER_RING_MAX_BYTES", Long.toString(ringMaxBytes));
    m.put("TETHER_MAX_APPEND_BYTES", Integer.toString(maxAppendBytes));
    m.put("TETHER_MAX_READ_BYTES", Integer.toString(maxReadBytes));
    m.put("TETHER_HEARTBEAT_SECONDS", Integer.toString(heartbeatSeconds));
    m.put("TETHER_LEASE_SECONDS", Integer.toString(leaseSeconds));
    m.put("TETHER_LONG_POLL_SECONDS", Integer.toString(longPollSeconds));
    m.put("TETHER_MAX_CONNECTIONS", Integer.toString(maxConnections));
    m.put("TETHER_EVENT_LOOPS", Integer.toString(eventLoops));
    m.put("TETHER_ADMIN_TOKEN", adminToken);
    m.put("TETHER_CORS_ORIGINS", corsOrigins);
    m.put("TETHER_REQUEST_TIMEOUT_MS", Long.toString(requestTimeoutMillis));
    m.put("TETHER_ROUTE_DEADLINE_MS", Long.toString(routeDeadlineMillis));
    m.put("TETHER_API_KEY", apiKey);
    m.put("TETHER_TOKEN_SECRET", tokenSecret);
    m.put("TETHER_TOKEN_TTL_SECONDS", Long.toString(tokenTtlSeconds));
    m.put("TETHER_MODEL", model);
    m.put("TETHER_MODEL_BASE_URL", modelBaseUrl);
    m.put("TETHER_MODEL_NAME", modelName);
    m.put("TETHER_MODEL_API_KEY", modelApiKey);
    m.put("TETHER_MODEL_CONNECT_TIMEOUT_MS", Long.toString(modelConnectTimeoutMillis));
    m.put("TETHER_MODEL_IDLE_TIMEOUT_MS", Long.toString(modelIdleTimeoutMillis));
    m.put("TETHER_MODEL_RETRIES", Integer.toString(modelRetries));
    m.put("TETHER_SIM_TOKENS_PER_SECOND", Integer.toString(simTokensPerSecond));
    m.put("TETHER_SIM_ANSWER_WORDS", Integer.toString(simAnswerWords));
    m.put("TETHER_SIM_THINK_SECONDS", Integer.toString(simThinkSeconds));
    m.put("TETHER_COALESCE_MS", Long.toString(coalesceMillis));
    m.put("TETHER_SYSTEM_PROMPT", systemPrompt);
    m.put("TETHER_TOOLS_FILE", toolsFile);
    m.put("TETHER_TOOL_WEBHOOK_URL", toolWebhookUrl);
    m.put("TETHER_TOOL_WEBHOOK_TOKEN", toolWebhookToken);
    m.put("TETHER_TOOL_TIMEOUT_MS", Long.toString(toolTimeoutMillis));
    m.put("TETHER_STREAM_AUTH", streamAuth.setting());
    m.put("TETHER_METRICS_TOKEN", metricsToken);
    m.put("TETHER_MAX_CONNECTIONS_PER_IP", Integer.toString(maxConnectionsPerIp));
    m.put("TETHER_HEADER_TIMEOUT_MS", Long.toString(headerTimeoutMillis));
    m.put("TETHER_IDLE_TIMEOUT_SECONDS", Integer.toString(idleTimeoutSeconds));
    m.put("TETHER_BODY_TIMEOUT_MS", Long.toString(bodyTimeoutMillis));
    m.put("TETHER_MAX_BODY_BUFFER_BYTES", Long.toString(maxBodyBufferBytes));
    m.put("TETHER_MAX_STREAMS_PER_NODE", Integer.toString(maxStreamsPerNode));
    m.put("TETHER_EVENTBUS_PORT", Integer.toString(eventBusPort));
    m.put("TETHER_CLUSTER_TLS_CERT", clusterTlsCert);
    m.put("TETHER_CLUSTER_TLS_KEY", clusterTlsKey);
    m.put("TETHER_CLUSTER_TLS_CA", clusterTlsCa);
    m.put("TETHER_CLUSTER_QUORUM", Integer.toString(clusterQuorum));
    m.put("TETHER_MIN_REPLICAS", Integer.toString(minReplicas));
    m.put("TETHER_OWNER_IDLE_SECONDS", Integer.toString(ownerIdleSeconds));
    return m;
  }

  private static Map<String, String> readProperties(Path path) {
    Properties properties = new Properties();
    try (java.io.Reader in = Files.newBufferedReader(path)) {
      properties.load(in);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read TETHER_CONFIG file " + path + ": " + e.getMessage(), e);
    }
    Map<String, String> values = new HashMap<>();
    properties.forEach((k, v) -> values.put(k.toString().trim(), v.toString().trim()));
    return values;
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  private record Reader(Map<String, String> values) {
    String string(String key, String fallback) {
      String value = values.get(key);
      return value == null ? fallback : value.trim();
    }

    int integer(String key, int fallback) {
      long value = longValue(key, fallback);
      if (value > Integer.MAX_VALUE || value < Integer.MIN_VALUE) {
        throw new IllegalArgumentException(key + " is out of range: " + value);
      }
      return (int) value;
    }

    long longValue(String key, long fallback) {
      String value = values.get(key);
      if (value == null || value.isBlank()) {
        return fallback;
      }
      try {
        return Long.parseLong(value.trim());
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(key + " must be an integer, got '" + value + "'");
      }
    }
  }
}
