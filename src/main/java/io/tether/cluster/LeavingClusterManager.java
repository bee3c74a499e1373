package io.tether.cluster;

import com.hazelcast.core.HazelcastInstance;
import io.vertx.core.Completable;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Vert.x's Hazelcast cluster manager for a node that shuts its Hazelcast member down itself.
 *
 * <p>A graceful stop ({@code TetherNode.stop}) shuts the member down first, so that its partitions
 * migrate to the other members while this node still serves, and closes Vert.x afterwards. By then
 * the member is gone and {@link HazelcastClusterManager#leave} can no longer remove its listeners
 * from it: Vert.x would log "Failed to leave cluster" at ERROR with a stack trace on every pod
 * termination. There is nothing left to do at that point (the other members drop this node's
 * event-bus registrations when they see it leave), so a leave that fails because the member has
 * already shut down counts as done. Any other failure is passed on.
 */
public final class LeavingClusterManager extends HazelcastClusterManager {

  private static final Logger log = LoggerFactory.getLogger(LeavingClusterManager.class);

  private final HazelcastInstance member;

  public LeavingClusterManager(HazelcastInstance member) {
    super(member);
    this.member = member;
  }

  @Override
  public void leave(Completable<Void> promise) {
    super.leave((result, failure) -> {
      if (failure != null && !member.getLifecycleService().isRunning()) {
        log.debug("the Hazelcast member had already left; nothing more to undo: {}", failure.toString());
        promise.succeed();
      } else {
        promise.complete(result, failure);
      }
    });
  }
}
