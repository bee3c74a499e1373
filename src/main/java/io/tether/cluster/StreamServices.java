package io.tether.cluster;

import io.tether.cluster.live.LiveRegistry;
import io.tether.cluster.owner.OwnerCompanion;
import io.tether.cluster.owner.OwnerRegistry;
import io.tether.cluster.routing.StreamRouter;
import io.tether.config.TetherConfig;
import io.tether.ops.TetherMetrics;
import io.tether.stream.StreamStore;
import io.vertx.core.Vertx;

/**
 * What the cluster layer of one node shares: built once by {@link io.tether.TetherNode} and handed to
 * owners, subscriptions and transports (no static state anywhere). {@code companions} creates the
 * logic that runs beside an owner for some streams (the conversation layer's sessions); may be {@code null}.
 */
public record StreamServices(
    Vertx vertx,
    TetherConfig config,
    NodeIdentity identity,
    StreamStore store,
    ClusterView cluster,
    StreamRouter router,
    OwnerRegistry owners,
    LiveRegistry live,
    TetherMetrics metrics,
    OwnerCompanion.Factory companions) {

  public StreamServices {
    // A request whose owner is on this node goes to it without the event bus.
    router.deliverLocally(owners::deliver);
  }

  public String nodeId() {
    return identity.nodeId();
  }
}
