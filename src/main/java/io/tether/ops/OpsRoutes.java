package io.tether.ops;

import io.tether.cluster.ClusterView;
import io.tether.cluster.StreamServices;
import io.tether.cluster.owner.OwnerInfo;
import io.tether.security.Credentials;
import io.tether.transport.ApiError;
import io.tether.transport.ProtocolHeaders;
import io.tether.transport.Replies;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.micrometer.PrometheusScrapingHandler;

import java.util.function.BooleanSupplier;

/**
 * Operations endpoints: {@code /health/live}, {@code /health/ready}, {@code /metrics} (Prometheus) and
 * the admin views {@code /v1/admin/streams/{name}} (owner look-up) and {@code /v1/admin/cluster} (members
 * and replication safety), bearer-token protected when {@code TETHER_ADMIN_TOKEN} is set.
 */
public final class OpsRoutes {

  private static final String ADMIN_PREFIX = "/v1/admin/streams/";

  private final StreamServices services;
  private final BooleanSupplier serving;

  public OpsRoutes(StreamServices services, BooleanSupplier serving) {
    this.services = services;
    this.serving = serving;
  }

  public void mount(Router router) {
    router.get("/health/live").handler(ctx -> json(ctx, 200, new JsonObject().put("status", "UP")));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(ctx -> {
      if (!services.config().metricsToken().isEmpty()
          && !bearerMatches(ctx, services.config().metricsToken(), "TETHER_METRICS_TOKEN")) {
        return;
      }
      ctx.next();
    }).handler(PrometheusScrapingHandler.create(services.metrics().registry()));
    router.get("/v1/admin/cluster").handler(this::describeCluster);
    router.get(ADMIN_PREFIX + "*").handler(this::describeStream);
  }

  /**
   * Whether <em>this</em> node can serve: 200 once it serves HTTP, has joined, is on the majority side of
   * the cluster (not cut off by a partition, not just woken from a pause) and the cluster has been safe
   * once since it started; 503 while it starts, shuts down or sits on a minority side. Whether partitions
   * are replicated right now is reported ({@code partitionsSafe}) but does not count: every member is
   * unsafe during each migration, and a readiness that followed it would take every pod out of the
   * Service at once.
   */
  private void ready(RoutingContext ctx) {
    boolean http = serving.getAsBoolean();
    ClusterView cluster = services.cluster();
    boolean joined = cluster.isJoined();
    boolean quorum = cluster.hasQuorum();
    boolean settled = cluster.isSettled();
    boolean up = http && joined && quorum && settled;
    JsonObject body = new JsonObject()
        .put("status", up ? "UP" : "DOWN")
        .put("nodeId", services.nodeId())
        .put("pid", ProcessHandle.current().pid())
        .put("httpPort", services.identity().httpPort())
        .put("serving", http)
        .put("joined", joined)
        .put("members", cluster.memberCount())
        .put("quorum", quorum)
        .put("settled", settled)
        .put("partitionsSafe", cluster.isSafe())
        .put("streamsOwned", services.owners().size());
    json(ctx, up ? 200 : 503, body);
  }

  /**
   * Whether the request carries {@code Authorization: Bearer <expected>}; otherwise answers 401 (no
   * credential) or 403 (a wrong one) and returns {@code false}.
   */
  private static boolean bearerMatches(RoutingContext ctx, String expected, String setting) {
    String auth = ctx.request().getHeader("Authorization");
    if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      ApiError.of(401, "unauthorized", ctx.request().path() + " needs Authorization: Bearer <" + setting + ">")
          .withHeader("WWW-Authenticate", "Bearer").send(ctx.response());
      return false;
    }
    if (!Credentials.constantTimeEquals(auth.substring(7).trim(), expected)) {
      ApiError.of(403, "forbidden", "the token is not valid for " + ctx.request().path()).send(ctx.response());
      return false;
    }
    return true;
  }

  private static void json(RoutingContext ctx, int status, JsonObject body) {
    ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store").end(body.encode());
  }

  /**
   * The cluster as this node sees it: members, whether every partition has its backups in place now
   * ({@code partitionsSafe}, what an operator waits for before taking the next member away by hand), and
   * what this node holds.
   */
  private void describeCluster(RoutingContext ctx) {
    if (services.config().adminProtected()
        && !bearerMatches(ctx, services.config().adminToken(), "TETHER_ADMIN_TOKEN")) {
      return;
    }
    ClusterView cluster = services.cluster();
    JsonObject body = new JsonObject()
        .put("nodeId", services.nodeId())
        .put("members", new io.vertx.core.json.JsonArray(cluster.memberNodeIds().stream().sorted().toList()))
        .put("quorum", cluster.hasQuorum())
        .put("partitionsSafe", cluster.isSafe())
        .put("localPrimaryPartitions", cluster.localPrimaryPartitions())
        .put("streamsOwned", services.owners().size());
    json(ctx, 200, body);
  }

  private void describeStream(RoutingContext ctx) {
    if (services.config().adminProtected()
        && !bearerMatches(ctx, services.config().adminToken(), "TETHER_ADMIN_TOKEN")) {
      return;
    }
    String name = ctx.request().path().substring(ADMIN_PREFIX.length());
    try {
      ProtocolHeaders.validateName(name);
    } catch (ApiError.Refusal refusal) {
      refusal.error().send(ctx.response());
      return;
    }
    services.router().describe(name).onComplete(ar -> {
      if (ar.failed()) {
        Replies.failure(ar.cause()).send(ctx.response());
        return;
      }
      OwnerInfo info = ar.result();
      JsonObject body = new JsonObject()
          .put("stream", name)
          .put("owner", new JsonObject()
              .put("nodeId", info.owner().nodeId())
              .put("httpPort", info.owner().httpPort())
              .put("pid", info.owner().pid()))
          .put("epoch", info.epoch())
          .put("backupNodeId", services.cluster().backupNodeOf(name))
          .put("firstOffset", info.first() == null ? null : info.first().toString())
          .put("nextOffset", info.next() == null ? null : info.next().toString())
          .put("subscriptions", info.subscriptions())
          .put("partition", services.cluster().partitionOf(name));
      ctx.response().putHeader("Content-Type", "application/json").putHeader("Cache-Control", "no-store")
          .end(body.encode());
    });
  }
}
