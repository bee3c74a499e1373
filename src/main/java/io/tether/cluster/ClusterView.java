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
    return whyNotReplicated(stream) == null;
  }

  /** Why a write to {@code stream} that just completed may not sit on a backup copy; {@code null} if it does. */
  public String whyNotReplicated(String stream) {
    io.tether.stream.StreamReply refusal = quorum.refusal(stream, true);
    return refusal == null ? null : refusal.detail();
  }

  /** Whether this node is on the majority side of the cluster and may serve (see {@link QuorumGuard}). */
  public boolean hasQuorum() {
    return quorum.hasQuorum();
  }

  /**
   * Keeps {@link #isSafe()} current with Hazelcast's check, on a worker thread: that check sends an
   * operation to every member and walks every partition's replica versions, and blocks, so event loops
   * only ever read the last answer. It runs at most once a second, and only when the answer may have
   * changed or is wanted: until the cluster has been safe once; while it is not safe, to see it become
   * safe again (a membership change makes it unsafe: a migration follows); while someone has read the
   * answer in the last {@value #DEMAND_MILLIS} ms (readiness probes, the admin view, a rolling restart
   * waiting for backups); otherwise every {@value #IDLE_PROBE_MILLIS} ms. Checking every second
   * regardless cost each member about 2% of a core, in operations among all members.
   *
   * <p>One check at a time: while a member is unreachable a check blocks (and Hazelcast retries it) for
   * seconds, and starting one every second regardless piled them up on the workers of a node that was
   * already struggling. A check still blocked at the next tick counts as unsafe: Hazelcast only blocks
   * like that while a member does not answer (it crashed, froze or is cut off), and its partitions'
   * copies are not in sync then, whatever the previous answer said. An answer older than
   * {@value #IDLE_PROBE_MILLIS} ms plus a tick counts as unsafe too.
   */
  public io.vertx.core.Future<String> startSafetyProbe(io.vertx.core.Vertx vertx) {
    Set<Member> initial = members();
    record(checkSafe(), initial);
    hazelcast.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent event) {
        membershipChanged();
      }

      @Override
      public void memberRemoved(MembershipEvent event) {
        membershipChanged();
      }
    });
    // A verticle of its own, so that Vert.x closing cancels the tick and waits for a check in progress.
    return vertx.deployVerticle(new io.vertx.core.VerticleBase() {
      @Override
      public io.vertx.core.Future<?> start() {
        BlockingCheck probe = new BlockingCheck(context);
        vertx.setPeriodic(PROBE_TICK_MILLIS, t -> tick(probe));
        return io.vertx.core.Future.succeededFuture();
      }
    });
  }

  private void tick(BlockingCheck probe) {
    long now = System.nanoTime();
    if (probe.running()) {
      stuck = true;
      return;
    }
    boolean wanted = !settled || !safe
        || now - lastDemand < java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(DEMAND_MILLIS)
        || now - checkedAt >= java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(IDLE_PROBE_MILLIS);
    if (!wanted) {
      return;
    }
    probes++;
    long generation = membershipGeneration;
    Set<Member> members = members();
    probe.run(this::checkSafe, ar -> {
      stuck = false;
      // An answer computed across a membership change says nothing about the new membership.
      record(generation == membershipGeneration && ar.succeeded() && ar.result(), members);
    });
  }

  private static final long PROBE_TICK_MILLIS = 1_000;
  /** How long after a read of {@link #isSafe()} the answer is kept current every second. */
  static final long DEMAND_MILLIS = 30_000;
  /** How often the answer is refreshed when nobody reads it and nothing changed. */
  static final long IDLE_PROBE_MILLIS = 10_000;

  private volatile boolean stuck;
  private volatile long membershipGeneration;
  private volatile long checkedAt = System.nanoTime();
  private volatile long lastDemand = Long.MIN_VALUE / 2;
  private volatile long probes;
  /** The members when the last answer's check started: the answer holds for them only. */
  private volatile Set<Member> probedMembers = Set.of();

  /**
   * A member joined or left: partitions migrate (or lost their backups) now, so the cluster is not safe
   * until the next check says otherwise (it runs within a second, as the probe runs while unsafe).
   */
  private void membershipChanged() {
    membershipGeneration++;
    safe = false;
  }

  private void record(boolean nowSafe, Set<Member> members) {
    probedMembers = members;
    safe = nowSafe;
    checkedAt = System.nanoTime();
    if (nowSafe) {
      settled = true;
    }
  }

  /**
   * Whether every partition's backups are in place and in sync, as the safety probe last saw it (at most
   * a second old while it is being read). It turns false on every member during each migration: an
   * admin view and what a rolling restart waits for, not readiness. Reading it keeps the probe running
   * every second for a while; the metric reads {@link #lastSafe()} instead.
   */
  public boolean isSafe() {
    lastDemand = System.nanoTime();
    return lastSafe();
  }

  /**
   * The last answer of the safety probe without asking for fresher ones; false if it is stale or stuck,
   * or if the members are not the ones it was checked with (this holds from the moment Hazelcast's member
   * list changes, whichever membership listener happens to run first).
   */
  public boolean lastSafe() {
    long age = System.nanoTime() - checkedAt;
    return safe && !stuck
        && age < java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(IDLE_PROBE_MILLIS + 2 * PROBE_TICK_MILLIS)
        && members().equals(probedMembers);
  }

  private Set<Member> members() {
    try {
      return hazelcast.getCluster().getMembers();
    } catch (RuntimeException e) {
      return Set.of();
    }
  }

  /** How many safety checks this node has run (for tests and the benchmark notes). */
  public long safetyProbes() {
    return probes;
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

  /**
   * Calls {@code onChange} (on a Hazelcast event thread) whenever a member joins or leaves and whenever a
   * partition replica has moved: the moments when a stream's primary copy may have come to this member.
   */
  public void onChange(Runnable onChange) {
    hazelcast.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent event) {
        onChange.run();
      }

      @Override
      public void memberRemoved(MembershipEvent event) {
        onChange.run();
      }
    });
    hazelcast.getPartitionService().addMigrationListener(new MigrationListener() {
      @Override
      public void migrationStarted(MigrationState state) {
      }

      @Override
      public void migrationFinished(MigrationState state) {
        onChange.run();
      }

      @Override
      public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
        onChange.run();
      }

      @Override
      public void replicaMigrationFailed(ReplicaMigrationEvent event) {
        onChange.run();
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
