package io.tether.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.instance.impl.HazelcastInstanceImpl;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.InternalPartitionService;
import com.hazelcast.internal.partition.PartitionReplica;
import com.hazelcast.splitbrainprotection.HeartbeatAware;
import com.hazelcast.splitbrainprotection.SplitBrainProtectionFunction;
import io.tether.stream.Outcome;
import io.tether.stream.StreamReply;
import io.tether.stream.WriteGuard;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.ToIntFunction;
import java.util.function.Supplier;

/**
 * The split-brain protection of a Tether member: whether this member may serve streams at all, checked
 * on the partition thread by every stream processor ({@link WriteGuard}) and by Hazelcast itself for the
 * maps that name it in their configuration.
 *
 * <p>A member serves only while it is on the majority side: itself plus the members it has heard a
 * heartbeat from in the last {@code toleranceMillis} number at least {@code quorum}. The tolerance is
 * shorter than Hazelcast's failure detection ({@code hazelcast.max.no.heartbeat.seconds}), so a member cut
 * off from the others stops serving before the others declare it dead and claim its streams.
 *
 * <p>A frozen process (a long GC pause, SIGSTOP, a suspended VM) is the other way to be on the wrong
 * side: when it wakes, its view of the cluster is as old as the pause, and Hazelcast even resets its
 * heartbeat clocks so as not to suspect everyone at once. So a member that notices it was paused
 * (its ticker thread fell behind by more than {@code pauseMillis}) forgets every heartbeat and serves
 * again only after hearing fresh ones, sent after it woke, from a quorum. If the others expelled it
 * meanwhile, none come until it has merged back as a new member. Operations that were queued on the
 * partition threads before the pause run on waking; they are refused as well, because the check itself
 * sees the ticker behind.
 *
 * <p>A partition whose every copy was on members this side lost (two members gone within the time it takes
 * to re-create backups, or a 3|2 split that left both copies on the other side) is <em>lost</em> here: the
 * stream map is empty there, but that says nothing about whether a stream exists. This member notices it
 * itself, from its own partition table: it keeps the last table whose every copy sat on a current member,
 * and when members leave, each partition whose copies in that table were all on members now gone is lost.
 * (Hazelcast's partition-lost events say the same, and are listened to as well, but they travel from the
 * master through its event service and were seen to arrive 10 s late on some members, long after the first
 * request had found the empty partition.) Until the members come back (each merged member announces the
 * partitions whose entries it handed over) or {@code lostHoldMillis} pass, a stream of a lost partition that
 * this member does not hold is refused with {@link Outcome#PARTITION_LOST}: no read answers "not found" for
 * a stream that exists on the other side, and no create makes a second stream of that name that the merge
 * would keep in place of the first (merge policy: the larger side's entry wins). A stream this member does
 * hold is served: its entry is proof that its copy survived.
 *
 * <p>With a quorum of 1 (a single node, or a deployment that opts out) the quorum checks pass.
 */
public final class QuorumGuard implements WriteGuard, SplitBrainProtectionFunction, HeartbeatAware {

  private static final Logger log = LoggerFactory.getLogger(QuorumGuard.class);

  /** Name of the split-brain protection that Tether's maps refer to. */
  public static final String PROTECTION_NAME = "tether-majority";

  private static final long TICK_MILLIS = 100;

  /** How long a lost partition is refused at most, unless a merge brings its members back sooner. */
  public static final long LOST_PARTITION_HOLD_MILLIS = 600_000;

  /**
   * After its own merge is done, how long a member that merged back waits at most for the other members
   * of its former side to announce theirs before it answers "absent" again.
   */
  static final long MERGE_SETTLE_MILLIS = 30_000;

  /** The topic on which a member that has merged back into the cluster announces it. */
  static final String MERGED_TOPIC = "tether.merged";

  private final int quorum;
  private final int minReplicas;
  private final long toleranceNanos;
  private final long pauseNanos;
  private final long settleNanos;
  private final LongSupplier clock;
  private final Map<UUID, Long> lastBeat = new ConcurrentHashMap<>();
  /** Partitions whose every copy was lost, with the time (nanos) it was noticed. */
  private final Map<Integer, Long> lostPartitions = new ConcurrentHashMap<>();
  private final long lostHoldNanos;
  /** Addresses of the other members of this member's former side whose merge announcement it awaits. */
  private final Set<String> awaitedMerges = ConcurrentHashMap.newKeySet();
  /** When (nanos) this member started merging back; {@code Long.MIN_VALUE} when it holds nothing. */
  private volatile long mergeHoldSince = Long.MIN_VALUE;
  /** When (nanos) this member's own merge was done; {@code Long.MIN_VALUE} until then. */
  private volatile long mergedAt = Long.MIN_VALUE;
  /** Members seen so far (compared with the current list to notice who left). */
  private Set<UUID> knownMembers = Set.of();
  /** The last partition table whose every copy was on a member of the list it was read with. */
  private UUID[][] lastTable;
  private volatile PartitionTable table;

  private volatile long lastTick;
  /** Heartbeats received before this time (nanos) do not count: the member woke from a pause. */
  private volatile long ignoreBefore = Long.MIN_VALUE;
  private volatile Supplier<Set<Member>> members;
  private volatile InternalPartitionService partitions;
  private volatile ToIntFunction<Object> partitionIds;
  private volatile Thread ticker;

  /**
   * @param quorum          members (this one included) that must be in touch for this member to serve
   * @param minReplicas     copies a stream's partition must have for a write (1: the primary alone)
   * @param toleranceMillis how recent a member's last heartbeat must be for it to count
   * @param pauseMillis     a ticker gap longer than this is a pause of the whole process
   * @param clock           monotonic nanoseconds (tests pass their own)
   */
  public QuorumGuard(int quorum, int minReplicas, long toleranceMillis, long pauseMillis, LongSupplier clock) {
    this(quorum, minReplicas, toleranceMillis, pauseMillis, LOST_PARTITION_HOLD_MILLIS, clock);
  }

  /** As above, with how long a lost partition is refused at most ({@code lostHoldMillis}). */
  QuorumGuard(int quorum, int minReplicas, long toleranceMillis, long pauseMillis, long lostHoldMillis,
              LongSupplier clock) {
    this.lostHoldNanos = TimeUnit.MILLISECONDS.toNanos(lostHoldMillis);
    this.quorum = quorum;
    this.minReplicas = minReplicas;
    this.toleranceNanos = TimeUnit.MILLISECONDS.toNanos(toleranceMillis);
    this.pauseNanos = TimeUnit.MILLISECONDS.toNanos(pauseMillis);
    // Heartbeats are sent every second; Hazelcast's own reset after a pause and the heartbeats that were
    // in flight while this process slept all arrive within this time of waking.
    this.settleNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(2_000, toleranceMillis));
    this.clock = clock;
    this.lastTick = clock.getAsLong();
  }

  public int quorum() {
    return quorum;
  }

  /** Whether this guard checks anything (a quorum above one member). */
  public boolean enabled() {
    return quorum > 1;
  }

  /** Binds the member: from now on its partition table and member list answer the checks. */
  public void bind(HazelcastInstance instance) {
    bind(instance, true);
  }

  /**
   * Binds the member; {@code lostEvents} false leaves Hazelcast's partition-lost events unheard, so that a
   * test sees what the member notices from its own partition table.
   */
  void bind(HazelcastInstance instance, boolean lostEvents) {
    HazelcastInstanceImpl impl = instance instanceof HazelcastInstanceProxy proxy ? proxy.getOriginal()
        : (HazelcastInstanceImpl) instance;
    this.partitions = impl.node.getPartitionService();
    InternalPartitionService service = partitions;
    this.partitionIds = service::getPartitionId;
    instance.getUserContext().put(CONTEXT_KEY, this);
    // Hazelcast names up to seven replicas per partition whatever a map's backup count: only the first
    // ones hold the stream map's copies.
    this.table = PartitionTable.of(service,
        1 + instance.getConfig().getMapConfig(io.tether.stream.StreamStore.MAP_NAME).getTotalBackupCount());
    bindMembers(() -> {
      try {
        return instance.getCluster().getMembers();
      } catch (com.hazelcast.core.HazelcastInstanceNotActiveException stopped) {
        // The node is stopping: in touch with nobody, so no quorum (timers may still ask).
        return java.util.Set.of();
      }
    });
    if (lostEvents) {
      instance.getMap(io.tether.stream.StreamStore.MAP_NAME)
          .addPartitionLostListener(event -> partitionLost(event.getPartitionId()));
    }
    instance.getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
      @Override
      public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
        memberListChanged();
      }

      @Override
      public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
        memberListChanged();
      }
    });
    com.hazelcast.topic.ITopic<String> merged = instance.getTopic(MERGED_TOPIC);
    merged.addMessageListener(message -> {
      if (!message.getPublishingMember().localMember()) {
        partitionsBack(parsePartitions(message.getMessageObject()),
            "member " + message.getPublishingMember().getAddress() + " merged back into the cluster");
        memberMerged(message.getPublishingMember().getAddress().toString());
      }
    });
    AtomicReference<String> mergingPrimaries = new AtomicReference<>("");
    instance.getLifecycleService().addLifecycleListener(event -> {
      switch (event.getState()) {
        case SHUTDOWN -> close();
        case MERGING -> {
          // The merge resets this member: until its entries, and those of the rest of its side, are back
          // in the larger cluster, it may be made primary of a partition whose streams only this side
          // held, and find it empty. It answers no "absent" until then (mergeStarted).
          Set<String> formerSide = new HashSet<>();
          for (Member member : instance.getCluster().getMembers()) {
            if (!member.localMember()) {
              formerSide.add(member.getAddress().toString());
            }
          }
          mergeStarted(formerSide);
          // The merge gives this member a new identity and the larger side's table: what it knew of its
          // old side says nothing there.
          forgetTable();
          // Before the merge resets this member, the partitions it is primary for: the entries it is about
          // to hand to the larger side.
          StringBuilder ids = new StringBuilder();
          for (com.hazelcast.partition.Partition partition : instance.getPartitionService().getPartitions()) {
            Member owner = partition.getOwner();
            if (owner != null && owner.localMember()) {
              ids.append(ids.length() == 0 ? "" : ",").append(partition.getPartitionId());
            }
          }
          mergingPrimaries.set(ids.toString());
        }
        case MERGED -> {
          // This member rejoined the larger side and handed it the entries of the partitions it was primary
          // for (Hazelcast waits for the merge operations before this event). Those partitions are back on
          // the larger side; this member's own view starts afresh.
          forgetTable();
          lostPartitions.clear();
          merged.publish(mergingPrimaries.get());
          mergeFinished();
        }
        default -> {
        }
      }
    });
  }

  private static Set<Integer> parsePartitions(String ids) {
    Set<Integer> partitions = new HashSet<>();
    for (String id : ids.split(",")) {
      if (!id.isBlank()) {
        partitions.add(Integer.parseInt(id.trim()));
      }
    }
    return partitions;
  }

  @Override
  public StreamReply absentRefusal(Object key) {
    // The membership listener and the ticker notice losses within moments; this looks again in case the
    // repaired partition table that made this member the primary of an empty partition came first. Only
    // the member list is compared here (a few members), not the table: this runs on a partition thread.
    noteLosses();
    if (mergeHeld()) {
      return StreamReply.refusal(Outcome.PARTITION_LOST, "this member is merging back into the cluster after a split: "
          + "the stream may exist on members whose entries are not back yet; retry in a moment");
    }
    ToIntFunction<Object> partitionOf = partitionIds;
    return partitionOf != null && isLost(partitionOf.applyAsInt(key)) ? lostRefusal() : null;
  }

  /**
   * This member starts merging back into a larger cluster; {@code formerSide} are the addresses of the
   * other members of its side. Until its own merge is done and each of them has announced its own (or
   * {@link #MERGE_SETTLE_MILLIS} after its own), an absent stream is refused, not "not found": Hazelcast
   * resets a merging member and hands its old entries over only after it has joined, and the master may
   * make it the primary of a partition whose every copy was on this side before those entries are back.
   */
  void mergeStarted(Set<String> formerSide) {
    awaitedMerges.clear();
    awaitedMerges.addAll(formerSide);
    mergedAt = Long.MIN_VALUE;
    mergeHoldSince = clock.getAsLong();
    log.info("merging back into the cluster: streams absent here are refused (503 partition_unavailable) until this "
        + "member and {} other member(s) of its side have merged", formerSide.size());
  }

  /** This member's own merge is done: its entries are back in the cluster. */
  void mergeFinished() {
    mergedAt = clock.getAsLong();
    releaseMergeHold("this member's merge is done");
  }

  /** A member of the cluster announced that its merge is done. */
  void memberMerged(String address) {
    if (awaitedMerges.remove(address)) {
      releaseMergeHold("member " + address + " merged back too");
    }
  }

  private void releaseMergeHold(String why) {
    if (mergeHoldSince != Long.MIN_VALUE && mergedAt != Long.MIN_VALUE && awaitedMerges.isEmpty()) {
      mergeHoldSince = Long.MIN_VALUE;
      log.info("{}: every member of this side has merged back; absent streams are answered again", why);
    }
  }

  /** Whether this member still refuses absent streams because it is merging back (see {@link #mergeStarted}). */
  boolean mergeHeld() {
    long since = mergeHoldSince;
    if (since == Long.MIN_VALUE) {
      return false;
    }
    long now = clock.getAsLong();
    long done = mergedAt;
    boolean settled = done != Long.MIN_VALUE && now - done > TimeUnit.MILLISECONDS.toNanos(MERGE_SETTLE_MILLIS);
    if (settled || now - since > lostHoldNanos) {
      mergeHoldSince = Long.MIN_VALUE;
      log.warn("still no merge announcement from {} ({}): absent streams are answered again", awaitedMerges,
          settled ? MERGE_SETTLE_MILLIS / 1000 + " s after this member's own merge" : "the lost-partition hold ran out");
      return false;
    }
    return true;
  }

  /** The member list changed (Hazelcast's membership event): members lost are noted when they go. */
  void memberListChanged() {
    observe();
  }

  /**
   * Notes the losses ({@link #noteLosses}), then keeps the current partition table if each of its copies is
   * on a current member (until the master has repaired it, the table still names the members that left,
   * and the last whole one is kept).
   */
  void observe() {
    Set<UUID> current = noteLosses();
    PartitionTable view = table;
    if (current == null || view == null) {
      return;
    }
    synchronized (this) {
      // Read in full each time (271 partitions by default, a few microseconds) and compared, rather than
      // trusting a change stamp of Hazelcast's internals.
      UUID[][] read = new UUID[view.partitionCount()][];
      boolean whole = true;
      boolean changed = lastTable == null || lastTable.length != read.length;
      for (int id = 0; id < read.length && whole; id++) {
        read[id] = view.replicas(id);
        for (UUID replica : read[id]) {
          whole &= current.contains(replica);
        }
        changed = changed || !Arrays.equals(read[id], lastTable[id]);
      }
      if (whole && changed) {
        lastTable = read;
        log.debug("partition table kept: {} partitions on {} members", read.length, current.size());
      }
    }
  }

  /**
   * Compares the current member list with the members known so far: every partition whose copies in the
   * last whole partition table were all on members that are gone is lost.
   *
   * @return the current member list, or {@code null} before one is bound
   */
  private Set<UUID> noteLosses() {
    Supplier<Set<Member>> memberList = members;
    if (memberList == null) {
      return null;
    }
    long now = clock.getAsLong();
    synchronized (this) {
      Set<UUID> current = uuids(memberList.get());
      if (lastTable != null && !current.containsAll(knownMembers)) {
        int lost = 0;
        for (int id = 0; id < lastTable.length; id++) {
          if (allGone(lastTable[id], current) && lostPartitions.putIfAbsent(id, now) == null) {
            lost++;
          }
        }
        if (lost > 0) {
          log.warn("every copy of {} partition(s) was on members that left: their streams that this member does not hold "
              + "are refused (503 partition_unavailable) until those members merge back, or for {} s",
              lost, TimeUnit.NANOSECONDS.toSeconds(lostHoldNanos));
        }
      }
      knownMembers = current;
      return current;
    }
  }

  private static boolean allGone(UUID[] replicas, Set<UUID> current) {
    if (replicas.length == 0) {
      return false;
    }
    for (UUID replica : replicas) {
      if (current.contains(replica)) {
        return false;
      }
    }
    return true;
  }

  /** Forgets the member list and table seen so far (this member merged into another cluster). */
  private void forgetTable() {
    Supplier<Set<Member>> memberList = members;
    synchronized (this) {
      lastTable = null;
      knownMembers = memberList == null ? Set.of() : uuids(memberList.get());
    }
  }

  private static StreamReply lostRefusal() {
    return StreamReply.refusal(Outcome.PARTITION_LOST, "every copy of this stream's partition may be on members that "
        + "left the cluster (a split or two members lost at once): it may exist there; retry once they are back");
  }

  private static Set<UUID> uuids(Set<Member> members) {
    Set<UUID> ids = new HashSet<>();
    for (Member member : members) {
      ids.add(member.getUuid());
    }
    return ids;
  }

  /** Sets how keys map to partitions (tests; a bound member uses its partition service). */
  void bindPartitions(ToIntFunction<Object> partitionOf) {
    this.partitionIds = partitionOf;
  }

  /** Sets the partition table this member reads (tests; a bound member uses its partition service). */
  void bindTable(PartitionTable view) {
    this.table = view;
    observe();
  }

  /** Hazelcast's event: every copy of {@code partitionId}'s streams was lost on this side. */
  void partitionLost(int partitionId) {
    boolean first = lostPartitions.isEmpty();
    if (lostPartitions.putIfAbsent(partitionId, clock.getAsLong()) == null) {
      // Normally this member noticed it from its partition table before the event came.
      if (first) {
        log.warn("every copy of partition {} (and perhaps more: see the count when they come back) was on members that "
            + "left: its streams that this member does not hold are refused (503 partition_unavailable) until those "
            + "members merge back, or for {} s", partitionId, TimeUnit.NANOSECONDS.toSeconds(lostHoldNanos));
      } else {
        log.debug("every copy of partition {} was on members that left", partitionId);
      }
    }
  }

  /** A member that held {@code partitionIds} has merged back: their streams are served again. */
  void partitionsBack(Set<Integer> partitionIds, String why) {
    int back = 0;
    for (Integer id : partitionIds) {
      back += lostPartitions.remove(id) != null ? 1 : 0;
    }
    if (back > 0) {
      log.info("{}: {} lost partition(s) are served again, {} still lost", why, back, lostPartitions.size());
    }
  }

  /** Whether {@code partitionId} is lost on this side and still held. */
  boolean isLost(int partitionId) {
    if (lostPartitions.isEmpty()) {
      return false;
    }
    Long since = lostPartitions.get(partitionId);
    if (since == null) {
      return false;
    }
    if (clock.getAsLong() - since > lostHoldNanos) {
      if (lostPartitions.remove(partitionId, since)) {
        log.warn("partition {} was lost {} s ago and its members did not come back: its streams are taken as gone",
            partitionId, TimeUnit.NANOSECONDS.toSeconds(lostHoldNanos));
      }
      return false;
    }
    return true;
  }

  /** Binds the member list alone and starts the pause detector (tests drive {@link #checkPause} instead). */
  void bindMembers(Supplier<Set<Member>> memberList) {
    this.members = memberList;
    // Joining the cluster took a while; that is not a pause of a process that served. And the members
    // it joined have just answered it: they count as in touch until their heartbeats take over.
    long now = clock.getAsLong();
    this.lastTick = now;
    synchronized (this) {
      knownMembers = uuids(memberList.get());
    }
    observe();
    for (Member member : memberList.get()) {
      if (!member.localMember()) {
        lastBeat.put(member.getUuid(), now);
      }
    }
  }

  /** Starts the thread that notices pauses of this process. */
  public void startPauseDetector() {
    if (enabled() && ticker == null) {
      lastTick = clock.getAsLong();
      Thread thread = new Thread(this::tick, "tether-pause-detector");
      thread.setDaemon(true);
      ticker = thread;
      thread.start();
    }
  }

  /** Stops the pause detector. */
  public void close() {
    Thread thread = ticker;
    ticker = null;
    if (thread != null) {
      thread.interrupt();
    }
  }

  private void tick() {
    long lastErrorLog = Long.MIN_VALUE / 2;
    int errors = 0;
    while (ticker == Thread.currentThread()) {
      checkPause(clock.getAsLong());
      try {
        observe();
      } catch (RuntimeException e) {
        // The thread must go on ticking whatever happens here: without ticks every later check would
        // count as the first one after a pause, and this node would refuse every append for good.
        errors++;
        long now = clock.getAsLong();
        if (now - lastErrorLog >= TimeUnit.MINUTES.toNanos(1)) {
          log.warn("member-list check of the pause detector failed, {} time(s) since the last such warning: {}", errors,
              e.toString());
          lastErrorLog = now;
          errors = 0;
        }
      }
      try {
        Thread.sleep(TICK_MILLIS);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Records the tick at {@code now}; a long gap since the last one means this process was paused. */
  void checkPause(long now) {
    long gap = now - lastTick;
    lastTick = now;
    if (gap > pauseNanos) {
      pausedUntil(now);
      log.warn("this process was paused for {} ms: it serves no stream until it hears from a quorum of members again",
          TimeUnit.NANOSECONDS.toMillis(gap));
    }
  }

  private void pausedUntil(long now) {
    ignoreBefore = now + settleNanos;
    lastBeat.clear();
  }

  /** Whether this member is on the majority side and has not just woken from a pause. */
  public boolean hasQuorum() {
    if (!enabled()) {
      return true;
    }
    Supplier<Set<Member>> memberList = members;
    if (memberList == null) {
      // Still joining: Hazelcast asks before the node has bound this guard.
      return false;
    }
    long now = clock.getAsLong();
    if (now - lastTick > pauseNanos) {
      // The ticker has not run since a pause (this check may be the first thing that ran on waking).
      pausedUntil(now);
      return false;
    }
    if (now < ignoreBefore) {
      return false;
    }
    int inTouch = 1;
    for (Member member : memberList.get()) {
      if (member.localMember()) {
        continue;
      }
      Long beat = lastBeat.get(member.getUuid());
      if (beat != null && now - beat < toleranceNanos && beat >= ignoreBefore) {
        inTouch++;
      }
    }
    return inTouch >= quorum;
  }

  @Override
  public StreamReply refusal(Object key, boolean write) {
    if (!hasQuorum()) {
      return StreamReply.refusal(Outcome.NO_QUORUM,
          "this node is not in touch with a majority of the cluster (" + quorum + " members); retry on another node");
    }
    String missing = write && minReplicas > 1 ? missingBackup(key) : null;
    if (missing != null) {
      return StreamReply.refusal(Outcome.UNDER_REPLICATED,
          "the stream's partition has no backup copy at the moment (" + missing + "); retry shortly");
    }
    return null;
  }

  /** Why the partition of {@code key} has no backup on a current member; {@code null} if it has one. */
  private String missingBackup(Object key) {
    InternalPartitionService service = partitions;
    if (service == null) {
      return "partition table not bound yet";
    }
    int id = service.getPartitionId(key);
    InternalPartition partition = service.getPartition(id);
    PartitionReplica primary = partition.getReplica(0);
    PartitionReplica backup = partition.getReplica(1);
    if (primary == null || backup == null || backup.uuid().equals(primary.uuid())) {
      return "partition " + id + " has " + (primary == null ? "no primary" : backup == null ? "no backup" : "its backup on its primary");
    }
    // Processors run on the primary, where the backup is another member; a stream owner that runs on a
    // member other than its partition's primary (during a migration) asks too, and may hold the backup.
    for (Member member : members.get()) {
      if (member.getUuid().equals(backup.uuid())) {
        return null;
      }
    }
    return "the backup member of partition " + id + " is not in the cluster";
  }

  // ------------------------------------------------------------------ Hazelcast's split-brain protection

  @Override
  public boolean apply(Collection<Member> members) {
    return members.size() >= quorum && hasQuorum();
  }

  @Override
  public void onHeartbeat(Member member, long timestamp) {
    long now = clock.getAsLong();
    if (now >= ignoreBefore) {
      lastBeat.put(member.getUuid(), now);
    }
  }
}
