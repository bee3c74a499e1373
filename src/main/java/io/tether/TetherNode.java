package io.tether;

import com.hazelcast.config.Config;
import com.hazelcast.config.SerializerConfig;
import com.hazelcast.config.SplitBrainProtectionConfig;
import com.hazelcast.config.XmlConfigBuilder;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tether.cluster.ClusterMessages;
import io.tether.cluster.owner.OwnerCompanion;
import io.tether.conversation.ChatModel;
import io.tether.conversation.ConversationServices;
import io.tether.conversation.ModelSettings;
import io.tether.conversation.OpenAiChatModel;
import io.tether.conversation.PresenceReporter;
import io.tether.conversation.SessionCompanion;
import io.tether.conversation.SessionIds;
import io.tether.conversation.SessionStore;
import io.tether.conversation.SessionSupervisor;
import io.tether.conversation.SimulatedModel;
import io.tether.conversation.Tools;
import io.tether.security.AccessGate;
import io.tether.security.KeyedIds;
import io.tether.security.TokenService;
import io.vertx.core.http.HttpClientOptions;
import io.tether.cluster.ClusterView;
import io.tether.cluster.LeavingClusterManager;
import io.tether.cluster.NodeAgent;
import io.tether.cluster.NodeIdentity;
import io.tether.cluster.QuorumGuard;
import io.tether.cluster.StreamServices;
import io.tether.cluster.live.LiveRegistry;
import io.tether.cluster.owner.OwnerRegistry;
import io.tether.cluster.routing.StreamRouter;
import io.tether.config.TetherConfig;
import io.tether.ops.TetherMetrics;
import io.tether.stream.StreamProcessors;
import io.tether.stream.StreamStore;
import io.tether.transport.ClientLimits;
import io.tether.transport.Drain;
import io.tether.transport.HttpApi;
import io.tether.wire.EventBusWireCodec;
import io.tether.wire.HazelcastWireSerializer;
import io.tether.wire.WireMessage;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.OpenSSLEngineOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One Tether node: an embedded Hazelcast member, a clustered Vert.x instance using it, the node agent
 * and the HTTP API. {@link Main} runs one per process; tests run several in one JVM.
 */
public final class TetherNode {

  private static final Logger log = LoggerFactory.getLogger(TetherNode.class);

  private final TetherConfig config;
  private final HazelcastInstance hazelcast;
  private final Vertx vertx;
  private final StreamServices services;
  private final NodeAgent agent;
  private final AtomicBoolean serving = new AtomicBoolean();
  private final Drain drain = new Drain();
  private volatile String httpDeployment;
  private final AtomicBoolean stopped = new AtomicBoolean();

  private TetherNode(TetherConfig config, HazelcastInstance hazelcast, Vertx vertx, StreamServices services) {
    this.config = config;
    this.hazelcast = hazelcast;
    this.vertx = vertx;
    this.services = services;
    this.agent = new NodeAgent(services);
  }

  /**
   * Starts a node and returns once it serves HTTP. Blocks the calling thread (joining the cluster is
   * blocking); never call it from an event loop.
   */
  public static TetherNode start(TetherConfig config) throws Exception {
    StreamProcessors.register();
    ClusterMessages.register();
    if (config.httpPort() == 0) {
      config = config.with(java.util.Map.of("TETHER_HTTP_PORT", Integer.toString(freePort(config.httpHost()))));
    }
    long started = System.nanoTime();
    Tools tools = config.toolsFile().isEmpty() ? Tools.defaults() : Tools.load(Path.of(config.toolsFile()));
    Config hazelcastConfig = hazelcastConfig(config);
    QuorumGuard quorum = quorumGuard(config, hazelcastConfig);
    HazelcastInstance hazelcast = Hazelcast.newHazelcastInstance(hazelcastConfig);
    quorum.bind(hazelcast);
    quorum.startPauseDetector();
    TetherMetrics metrics = new TetherMetrics();
    Vertx vertx;
    try {
      VertxOptions options = new VertxOptions()
          .setEventLoopPoolSize(config.eventLoops())
          .setPreferNativeTransport(true)
          .setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true))
          .setEventBusOptions(eventBusOptions(config));
      vertx = Vertx.builder()
          .with(options)
          .withClusterManager(new LeavingClusterManager(hazelcast))
          .withMetrics(new MicrometerMetricsFactory(metrics.registry()))
          .buildClustered()
          .await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      hazelcast.shutdown();
      throw e;
    }
    vertx.eventBus().registerCodec(new EventBusWireCodec());
    vertx.eventBus().codecSelector(body -> body instanceof WireMessage ? EventBusWireCodec.NAME : null);

    ClusterView cluster = new ClusterView(hazelcast, quorum);
    cluster.startSafetyProbe(vertx).await(30, TimeUnit.SECONDS);
    NodeIdentity identity = new NodeIdentity(config.nodeId(), config.httpPort(), ProcessHandle.current().pid());
    SessionStore sessions = new SessionStore(hazelcast);
    ConversationServices conversations = new ConversationServices(config, model(vertx, config), tools, sessions,
        vertx.createHttpClient(new HttpClientOptions().setConnectTimeout(5_000)), metrics);
    OwnerCompanion.Factory companions = owner -> SessionIds.isSessionStream(owner.stream())
        ? new SessionCompanion(owner, conversations, vertx) : null;
    StreamServices services = new StreamServices(vertx, config, identity, new StreamStore(hazelcast), cluster,
        new StreamRouter(vertx, cluster, config.requestTimeoutMillis(), config.routeDeadlineMillis()),
        new OwnerRegistry(), new LiveRegistry(), metrics, companions);
    services.router().onTimeout(metrics::routeTimedOut);
    String secret = tokenSecret(config, hazelcast);
    AccessGate gate = new AccessGate(new TokenService(vertx, secret, config.tokenTtlSeconds()), config.apiKey(),
        config.streamAuth(), new KeyedIds(secret));
    metrics.gauge("tether.cluster.members", "Members of the cluster as this node sees them", cluster::memberCount);
    metrics.gauge("tether.partitions.safe", "1 while every partition has its backups in place and in sync, "
        + "else 0 (during migrations, and after a member loss until its partitions are copied again)",
        () -> cluster.lastSafe() ? 1 : 0);
    metrics.gauge("tether.stream.owners", "Active stream owners on this node (idle ones passivate)",
        services.owners()::size);
    metrics.gauge("tether.streams.local", "Streams whose primary copy lives on this member",
        services.store()::localSize);
    metrics.gauge("tether.route.inflight", "Requests this node sent to stream owners and awaits answers for",
        services.router()::inFlight);
    TetherNode node = new TetherNode(config, hazelcast, vertx, services);
    try {
      vertx.deployVerticle(node.agent).await(30, TimeUnit.SECONDS);
      node.agent.reachPeers(20_000).await(30, TimeUnit.SECONDS);
      vertx.deployVerticle(new SessionSupervisor(services, sessions)).await(30, TimeUnit.SECONDS);
      PresenceReporter presence = new PresenceReporter(services);
      vertx.deployVerticle(presence).await(30, TimeUnit.SECONDS);
      int instances = config.eventLoops();
      ClientLimits limits = ClientLimits.of(config);
      metrics.gauge("tether.request.body.bytes", "Request-body bytes held by this node right now",
          limits::bodyBytesHeld);
      node.httpDeployment = vertx.deployVerticle(() -> new HttpApi(services, gate, presence, limits,
              node.serving::get, node.drain), new DeploymentOptions().setInstances(instances))
          .await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      node.stop().await(30, TimeUnit.SECONDS);
      throw e;
    }
    // One line says everything a node started without secrets leaves open or fragile.
    java.util.List<String> open = config.openToAnyone();
    String fragile = config.tokenSecret().isEmpty() ? "TETHER_TOKEN_SECRET is not set: session tokens are signed "
        + "with a secret generated by the first member and kept only in the cluster's memory, so a restart of the "
        + "whole cluster invalidates every token" : null;
    if (!open.isEmpty()) {
      log.warn("Open to anyone who can reach this node: {}.{} Fine for a local demo; see docs/security.md before "
          + "exposing it.", String.join("; ", open), fragile == null ? "" : " " + fragile + ".");
    } else if (fragile != null) {
      log.warn("{}; set it in production (see docs/security.md).", fragile);
    }
    node.serving.set(true);
    log.info("Tether node {} ready in {} ms: http://{}:{} (cluster '{}', {} member(s), pid {}, {} transport)",
        config.nodeId(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), config.httpHost(),
        config.httpPort(), config.clusterName(), cluster.memberCount(), ProcessHandle.current().pid(),
        vertx.isNativeTransportEnabled() ? "epoll" : "NIO");
    return node;
  }

  /**
   * The clustered event bus: on the cluster interface, at {@code TETHER_EVENTBUS_PORT} (fixed, so a
   * network policy can name it). With a cluster certificate, every connection between members is TLS
   * with client authentication: a process that joins Hazelcast without the certificate can neither send
   * to a stream's address nor receive what members send to addresses it registers.
   */
  static EventBusOptions eventBusOptions(TetherConfig config) {
    EventBusOptions options = new EventBusOptions()
        .setHost(config.clusterHost().isEmpty() ? null : config.clusterHost())
        .setPort(config.eventBusPort());
    if (config.clusterTls()) {
      options.setSsl(true)
          .setKeyCertOptions(new PemKeyCertOptions().setCertPath(config.clusterTlsCert()).setKeyPath(config.clusterTlsKey()))
          .setTrustOptions(new PemTrustOptions().addCertPath(
              config.clusterTlsCa().isEmpty() ? config.clusterTlsCert() : config.clusterTlsCa()))
          .setClientAuth(ClientAuth.REQUIRED);
      if (OpenSSLEngineOptions.isAvailable()) {
        // BoringSSL seals and opens records for a fraction of the JDK engine's CPU; same protocol and checks.
        options.setSslEngineOptions(new OpenSSLEngineOptions());
      }
    }
    return options;
  }

  private static ChatModel model(Vertx vertx, TetherConfig config) {
    if (config.model().equals("openai")) {
      return new OpenAiChatModel(vertx, new ModelSettings(config.modelBaseUrl(), config.modelName(), config.modelApiKey(),
          config.modelConnectTimeoutMillis(), config.modelIdleTimeoutMillis(), config.modelRetries(), 250));
    }
    return new SimulatedModel(vertx, config.simTokensPerSecond(), config.simAnswerWords(), config.simThinkSeconds() * 1000L);
  }

  /**
   * The secret that signs session tokens: {@code TETHER_TOKEN_SECRET}, else one generated by the first
   * member and shared through the cluster (tokens then stop working when the whole cluster restarts).
   */
  private static String tokenSecret(TetherConfig config, HazelcastInstance hazelcast) {
    if (!config.tokenSecret().isEmpty()) {
      return config.tokenSecret();
    }
    byte[] random = new byte[36];
    new java.security.SecureRandom().nextBytes(random);
    String generated = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    String shared = hazelcast.<String, String>getMap(SECRETS_MAP).putIfAbsent("token-secret", generated);
    return shared != null ? shared : generated;
  }

  private static final String SECRETS_MAP = "tether.secrets";

  /**
   * Hazelcast config: {@code cluster.xml} with this node's values filled in, plus Tether's serializer.
   * Public so that the cluster benchmark's bare relay joins with exactly the same membership settings.
   */
  public static Config hazelcastConfig(TetherConfig config) throws IOException {
    Properties properties = new Properties();
    properties.setProperty("tether.cluster.name", config.clusterName());
    properties.setProperty("tether.cluster.port", Integer.toString(config.clusterPort()));
    boolean oneInterface = !config.clusterHost().isEmpty() && !config.clusterHost().equals("0.0.0.0");
    properties.setProperty("tether.interfaces.enabled", Boolean.toString(oneInterface));
    properties.setProperty("tether.cluster.host", oneInterface ? config.clusterHost() : "127.0.0.1");
    properties.setProperty("tether.cluster.members", config.clusterMembers());
    properties.setProperty("tether.join.tcp", Boolean.toString(config.discovery().equals("tcp")));
    properties.setProperty("tether.join.kubernetes", Boolean.toString(config.discovery().startsWith("kubernetes")));
    properties.setProperty("tether.k8s.service.dns", config.kubernetesService());
    Config hz;
    try (InputStream xml = openClusterXml(config)) {
      hz = new XmlConfigBuilder(xml).setProperties(properties).build();
    }
    if (oneInterface) {
      hz.setProperty("hazelcast.socket.bind.any", "false");
    }
    if (config.discovery().equals("kubernetes-api")) {
      // Kubernetes API discovery: the members list the service's endpoints instead of resolving DNS.
      Map<String, String> kubernetes = hz.getNetworkConfig().getJoin().getKubernetesConfig().getProperties();
      kubernetes.remove("service-dns");
      kubernetes.put("service-name", config.kubernetesServiceName());
      if (!config.kubernetesNamespace().isEmpty()) {
        kubernetes.put("namespace", config.kubernetesNamespace());
      }
    }
    hz.setInstanceName("tether-" + config.nodeId());
    hz.getMemberAttributeConfig().setAttribute(ClusterView.NODE_ID_ATTRIBUTE, config.nodeId());
    hz.getSerializationConfig().addSerializerConfig(new SerializerConfig()
        .setTypeClass(WireMessage.class).setImplementation(new HazelcastWireSerializer()));
    return hz;
  }

  /**
   * The member's split-brain protection ({@link QuorumGuard}), registered in {@code hz} so that Hazelcast
   * feeds it heartbeats. A member counts as in touch while its last heartbeat is at most half of
   * Hazelcast's failure-detection time old: a member cut off from the majority stops serving well before
   * the majority declares it dead and claims its streams.
   */
  static QuorumGuard quorumGuard(TetherConfig config, Config hz) {
    long maxNoHeartbeatMillis = 1000L * Long.parseLong(hz.getProperty("hazelcast.max.no.heartbeat.seconds") == null
        ? "60" : hz.getProperty("hazelcast.max.no.heartbeat.seconds"));
    long heartbeatMillis = 1000L * Long.parseLong(hz.getProperty("hazelcast.heartbeat.interval.seconds") == null
        ? "5" : hz.getProperty("hazelcast.heartbeat.interval.seconds"));
    long tolerance = Math.max(heartbeatMillis * 2 + 500, maxNoHeartbeatMillis / 2);
    QuorumGuard guard = new QuorumGuard(config.clusterQuorum(), config.minReplicas(), tolerance, 1_500, System::nanoTime);
    if (guard.enabled()) {
      hz.addSplitBrainProtectionConfig(new SplitBrainProtectionConfig(QuorumGuard.PROTECTION_NAME, true,
          config.clusterQuorum()).setFunctionImplementation(guard));
    }
    return guard;
  }

  private static InputStream openClusterXml(TetherConfig config) throws IOException {
    if (!config.clusterConfig().isEmpty()) {
      return Files.newInputStream(Path.of(config.clusterConfig()));
    }
    Path local = Path.of("cluster.xml");
    if (Files.isRegularFile(local)) {
      return Files.newInputStream(local);
    }
    InputStream bundled = TetherNode.class.getResourceAsStream("/cluster.xml");
    if (bundled == null) {
      throw new IOException("no cluster.xml in the working directory or the jar");
    }
    return bundled;
  }

  private static int freePort(String host) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(host.equals("0.0.0.0") ? "127.0.0.1" : host, 0));
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A stopping node keeps its stream addresses until no request has reached them for this long. */
  private static final long QUIET_MILLIS = 300;
  /** ... but no longer than this after draining. */
  private static final long QUIET_MAX_MILLIS = 5_000;

  /**
   * Leaves gracefully (SIGTERM): stops reporting ready, lets Hazelcast move this member's partitions to
   * the others while the node still serves (owners of moved partitions step down, so requests reach the
   * new owners), then tells the clients connected here to reconnect elsewhere, and leaves. Idempotent.
   */
  public Future<Void> stop() {
    if (!stopped.compareAndSet(false, true)) {
      return Future.succeededFuture();
    }
    serving.set(false);
    agent.leave();
    Promise<Void> done = Promise.promise();
    Thread handover = new Thread(() -> {
      long started = System.nanoTime();
      Thread leave = new Thread(() -> {
        try {
          hazelcast.shutdown();
        } catch (RuntimeException e) {
          log.warn("Hazelcast shutdown failed: {}", e.getMessage());
        }
      }, "tether-leave");
      leave.start();
      // Partitions migrate away only if other members are there to take them.
      long deadline = System.currentTimeMillis() + 90_000;
      while (leave.isAlive() && System.currentTimeMillis() < deadline && localPartitions() > 0) {
        sleep(20);
      }
      long handedOver = System.nanoTime();
      services.owners().retireAll("node shutting down");
      // New requests are refused from here on (503, Connection: close); those running, live responses
      // included, end properly before any socket closes.
      drain.start();
      services.live().shutdownAll();
      // The HTTP servers stop listening (new connections are refused) and close each connection once its
      // current response is sent (HttpApi.stop), within HttpApi.SHUTDOWN_GRACE.
      if (httpDeployment != null) {
        try {
          vertx.undeploy(httpDeployment).await(HttpApi.SHUTDOWN_GRACE.toSeconds() + 5, TimeUnit.SECONDS);
        } catch (Exception e) {
          log.debug("HTTP servers did not shut down cleanly: {}", e.getMessage());
        }
      }
      long drained = System.currentTimeMillis() + 5_000;
      while ((services.metrics().totalConnections() > 0 || services.owners().operationsInFlight() > 0
          || drain.active() > 0) && System.currentTimeMillis() < drained) {
        sleep(10);
      }
      if (drain.active() > 0 || services.metrics().totalConnections() > 0) {
        log.warn("{} requests and {} live connections still open after 5 s of draining; closing them{}",
            drain.active(), services.metrics().totalConnections(),
            drain.active() > 0 ? ": " + drain.describeRunning(5) : "");
      }
      // Other nodes route to this node's stepped-down owners until they see this member leave the
      // cluster; each such request is answered MOVED and goes on to the new owner. A request that reached
      // an address after it was gone would be dropped without an answer, and its sender could only
      // report an append's outcome as unknown. So the addresses stay until the member has left and no
      // request has come for a while.
      long quietUntil = System.currentTimeMillis() + QUIET_MAX_MILLIS;
      long leftAt = 0;
      while (System.currentTimeMillis() < quietUntil) {
        if (leftAt == 0 && !leave.isAlive()) {
          leftAt = System.nanoTime();
        }
        long lastRequest = Math.max(leftAt, services.owners().lastRedirect());
        if (leftAt != 0 && System.nanoTime() - lastRequest >= TimeUnit.MILLISECONDS.toNanos(QUIET_MILLIS)) {
          break;
        }
        sleep(10);
      }
      // Stop answering for the streams, give the other nodes a moment to drop those addresses, then
      // tell them to resend anything they may still have had in flight here.
      try {
        services.owners().unregisterRetired().await(5, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.debug("retired owners did not unregister: {}", e.getMessage());
      }
      sleep(100);
      agent.announceLeaving();
      sleep(50);
      // Close Vert.x (unregistering its event-bus addresses) while Hazelcast finishes leaving.
      try {
        vertx.close().await(60, TimeUnit.SECONDS);
      } catch (Exception e) {
        log.debug("Vert.x did not close cleanly: {}", e.getMessage());
      }
      try {
        leave.join(90_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      log.info("Tether node {} stopped: partitions handed over in {} ms, left the cluster in {} ms", config.nodeId(),
          TimeUnit.NANOSECONDS.toMillis(handedOver - started), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      done.complete();
    }, "tether-stop");
    handover.start();
    return done.future();
  }

  private int localPartitions() {
    try {
      return services.cluster().localPrimaryPartitions();
    } catch (RuntimeException e) {
      return 0;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Simulates a crash in tests: drops out of the cluster without any handover. */
  public void crash() {
    stopped.set(true);
    serving.set(false);
    hazelcast.getLifecycleService().terminate();
    vertx.close();
  }

  public TetherConfig config() {
    return config;
  }

  public int httpPort() {
    return config.httpPort();
  }

  public String nodeId() {
    return config.nodeId();
  }

  public Vertx vertx() {
    return vertx;
  }

  public HazelcastInstance hazelcast() {
    return hazelcast;
  }

  /** The HTTP requests this node is serving, as its graceful stop counts them. */
  public Drain drain() {
    return drain;
  }

  public StreamServices services() {
    return services;
  }
}
