package io.tether.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.partition.MigrationListener;
import com.hazelcast.partition.MigrationState;
import com.hazelcast.partition.Partition;
import com.hazelcast.partition.ReplicaMigrationEvent;

import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.stream.Collectors;

/**
 * What this node knows about the cluster, from Hazelcast: which member holds a stream's primary
 * partition (its owner), who is a member, and whether partitions are safely replicated. Partition
 * look-ups are local (Hazelcast keeps the partition table on every member), so routing costs no
 * network round trip.
 */
public final class ClusterView {

  /** Member attribute holding the Vert.x node id, set by {@link io.tether.TetherNode}. */
  public static final String NODE_ID_ATTRIBUTE = "__vertx.nodeId";

  private final HazelcastInstance hazelcast;
  private final QuorumGuard quorum;
  private volatile boolean safe;
  private volatile boolean settled;

  public ClusterView(HazelcastInstance hazelcast, QuorumGuard quorum) {
    this.hazelcast = hazelcast;
    this.quorum = quorum;
  }

  /**
   * Whether a write to {@code stream} that just completed can be trusted to sit on a backup copy: this
   * member still has its quorum and the stream's partition has a backup on a current member. Hazelcast
   * completes a write whose backup member left the cluster as if the backup had acknowledged it (also
   * when the members that "left" are the other side of a partition); such a write is not replicated.
   */
  public boolean writeStillReplicated(String stream) {
    return quorum.refusal(stream, true) == null;
  }

  /** Whether this node is on the majority side of the cluster and may serve (see {@link QuorumGuard}). */
  public boolean hasQuorum() {
    return quorum.hasQuorum();
  }

  /**
   * Re-checks {@link #isSafe()} once a second on a worker thread: Hazelcast's check asks every member
   * and blocks, so event loops only ever read the last answer. One check at a time: while a member is
   * unreachable a check blocks (and Hazelcast retries it) for seconds, and starting one every second
   * regardless piled them up on the workers of a node that was already struggling. A check still
   * blocked at the next tick counts as unsafe: Hazelcast only blocks like that while a member does not
   * answer (it crashed, froze or is cut off), and its partitions' copies are not in sync then, whatever
   * the previous answer said.
   */
  public void startSafetyProbe(io.vertx.core.Vertx vertx) {
    record(checkSafe());
    java.util.concurrent.atomic.AtomicBoolean probing = new java.util.concurrent.atomic.AtomicBoolean();
    vertx.setPeriodic(1000, t -> {
      if (probing.compareAndSet(false, true)) {
        vertx.executeBlocking(this::checkSafe, false).onComplete(ar -> {
          probing.set(false);
          record(ar.succeeded() && ar.result());
        });
      } else {
        safe = false;
      }
    });
  }

  private void record(boolean nowSafe) {
    safe = nowSafe;
    if (nowSafe) {
      settled = true;
    }
  }

  /**
   * The last answer of the safety probe: every partition's backups are in place and in sync. A metric
   * and an admin view, not readiness: it turns false on every member during each migration.
   */
  public boolean isSafe() {
    return safe;
  }

  /**
   * Whether the cluster has been safe at least once since this node started: a member that has just
   * joined reports ready only from then on, so that a rolling update (which waits for each new pod to be
   * ready before it stops the next one) never takes a member away while backups are still being copied
   * to the newcomer. Never turns false again.
   */
  public boolean isSettled() {
    return settled;
  }

  /** Whether this member's Hazelcast runs and counts it as a member. */
  public boolean isJoined() {
    try {
      return hazelcast.getLifecycleService().isRunning()
          && hazelcast.getCluster().getMembers().contains(hazelcast.getCluster().getLocalMember());
    } catch (RuntimeException e) {
      return false;
    }
  }

  public HazelcastInstance hazelcast() {
    return hazelcast;
  }

  /** Vert.x node id of the member holding the backup copy of the stream's partition, or {@code null}. */
  public String backupNodeOf(String stream) {
    com.hazelcast.instance.impl.HazelcastInstanceImpl impl =
        hazelcast instanceof com.hazelcast.instance.impl.HazelcastInstanceProxy proxy ? proxy.getOriginal()
            : (com.hazelcast.instance.impl.HazelcastInstanceImpl) hazelcast;
    com.hazelcast.internal.partition.PartitionReplica backup =
        impl.node.getPartitionService().getPartition(partitionOf(stream)).getReplica(1);
    if (backup == null) {
      return null;
    }
    for (Member member : hazelcast.getCluster().getMembers()) {
      if (member.getUuid().equals(backup.uuid())) {
        return member.getAttribute(NODE_ID_ATTRIBUTE);
      }
    }
    return null;
  }

  /** Vert.x node id of the member holding the stream's primary partition, or {@code null} while unassigned. */
  public String ownerNodeOf(String stream) {
    Partition partition = hazelcast.getPartitionService().getPartition(stream);
    Member owner = partition.getOwner();
    return owner == null ? null : owner.getAttribute(NODE_ID_ATTRIBUTE);
  }

  public int partitionOf(String stream) {
    return hazelcast.getPartitionService().getPartition(stream).getPartitionId();
  }

  public boolean isLocalOwner(String stream) {
    Member owner = hazelcast.getPartitionService().getPartition(stream).getOwner();
    return owner != null && owner.localMember();
  }

  public String localNodeId() {
    return hazelcast.getCluster().getLocalMember().getAttribute(NODE_ID_ATTRIBUTE);
  }

  public Set<String> memberNodeIds() {
    return hazelcast.getCluster().getMembers().stream()
        .map(m -> m.getAttribute(NODE_ID_ATTRIBUTE))
        .collect(Collectors.toSet());
  }

  public int memberCount() {
    return hazelcast.getCluster().getMembers().size();
  }

  private boolean checkSafe() {
    try {
      return hazelcast.getLifecycleService().isRunning() && hazelcast.getPartitionService().isClusterSafe();
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Primary partitions this member holds. */
  public int localPrimaryPartitions() {
    int count = 0;
    for (Partition partition : hazelcast.getPartitionService().getPartitions()) {
      Member owner = partition.getOwner();
      if (owner != null && owner.localMember()) {
        count++;
      }
    }
    return count;
  }

  /** Calls {@code onMovedAway} with the id of every partition whose primary copy leaves this member. */
  public UUID onPrimaryMovedAway(IntConsumer onMovedAway) {
    return hazelcast.getPartitionService().addMigrationListener(new MigrationListener() {
      @Override
      public void migrationStarted(MigrationState state) {
      }

      @Override
      public void migrationFinished(MigrationState state) {
      }

      @Override
      public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
        Member source = event.getSource();
        Member destination = event.getDestination();
        if (event.getReplicaIndex() == 0 && source != null && source.localMember()
            && (destination == null || !destination.localMember())) {
          onMovedAway.accept(event.getPartitionId());
        }
      }

      @Override
      public void replicaMigrationFailed(ReplicaMigrationEvent event) {
      }
    });
  }

  /** Calls {@code onLeft} with the Vert.x node id of every member that leaves (crash or shutdown). */
  public UUID onMemberLeft(Consumer<String> onLeft) {
    return hazelcast.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent event) {
      }

      @Override
      public void memberRemoved(MembershipEvent event) {
        onLeft.accept(event.getMember().getAttribute(NODE_ID_ATTRIBUTE));
      }
    });
  }
}
