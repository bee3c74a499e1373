package io.tether.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.impl.MemberImpl;
import com.hazelcast.version.MemberVersion;
import io.tether.stream.Outcome;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The split-brain protection of one member, driven by a hand-moved clock: when it may serve. */
class QuorumGuardTest {

  private long now = TimeUnit.SECONDS.toNanos(1_000);
  private final Member self = member(1, true);
  private final Member second = member(2, false);
  private final Member third = member(3, false);
  private QuorumGuard guard;

  @BeforeEach
  void threeMembersQuorumTwo() {
    guard = new QuorumGuard(2, 1, 2_500, 1_500, () -> now);
    guard.bindMembers(() -> Set.of(self, second, third));
  }

  @Test
  void servesWhileItHearsFromAMajority() {
    assertThat(guard.hasQuorum()).as("just joined: the members it joined count as in touch").isTrue();
    tick(1_000);
    tick(1_000);
    tick(1_000);
    assertThat(guard.hasQuorum()).as("no heartbeat heard since joining").isFalse();
    guard.onHeartbeat(second, 0);
    assertThat(guard.hasQuorum()).isTrue();
    assertThat(guard.refusal("s", true)).isNull();
  }

  @Test
  void aMemberCutOffStopsServingBeforeTheOthersDeclareItDead() {
    guard.onHeartbeat(second, 0);
    guard.onHeartbeat(third, 0);
    tick(1_000);
    assertThat(guard.hasQuorum()).isTrue();
    // Partitioned: no more heartbeats, while its view still lists both others (Hazelcast removes them
    // only after 5 s). After the tolerance it refuses.
    tick(1_000);
    tick(600);
    assertThat(guard.hasQuorum()).isFalse();
    assertThat(guard.refusal("s", false).outcome()).isEqualTo(Outcome.NO_QUORUM);
    // One fresh heartbeat from one other member is a majority of three again.
    guard.onHeartbeat(third, 0);
    assertThat(guard.hasQuorum()).isTrue();
  }

  @Test
  void aProcessThatWokeFromAPauseServesNothingUntilItHearsFreshHeartbeats() {
    guard.onHeartbeat(second, 0);
    assertThat(guard.hasQuorum()).isTrue();

    // SIGSTOP for 10 s: nothing ran, not even the ticker. The first check after waking refuses.
    now += TimeUnit.SECONDS.toNanos(10);
    assertThat(guard.hasQuorum()).isFalse();
    // Hazelcast resets its heartbeat clocks on waking (it reports them as just received): ignored.
    guard.onHeartbeat(second, 0);
    guard.onHeartbeat(third, 0);
    tick(100);
    assertThat(guard.hasQuorum()).isFalse();

    // Heartbeats that arrive once the wake-up has settled count again (the member was not expelled).
    for (int i = 0; i < 25; i++) {
      tick(100);
    }
    guard.onHeartbeat(second, 0);
    assertThat(guard.hasQuorum()).isTrue();
  }

  @Test
  void theTickerNoticesAPauseToo() {
    guard.onHeartbeat(second, 0);
    now += TimeUnit.SECONDS.toNanos(3);
    guard.checkPause(now);
    guard.onHeartbeat(second, 0);
    assertThat(guard.hasQuorum()).isFalse();
  }

  @Test
  void aQuorumOfOneChecksNothing() {
    QuorumGuard single = new QuorumGuard(1, 1, 2_500, 1_500, () -> now);
    assertThat(single.enabled()).isFalse();
    now += TimeUnit.SECONDS.toNanos(60);
    assertThat(single.hasQuorum()).isTrue();
    assertThat(single.refusal("s", true)).isNull();
  }

  /**
   * The pause detector's thread also looks at the member list every tick. An error there (Hazelcast
   * throws while it changes state) must not end the thread: with no ticks the guard would take every
   * moment from then on for a pause and refuse all appends on this node for good.
   */
  @Test
  void thePauseDetectorOutlivesAnErrorInItsTick() {
    java.util.concurrent.atomic.AtomicInteger failures = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger calls = new java.util.concurrent.atomic.AtomicInteger();
    QuorumGuard live = new QuorumGuard(2, 1, 2_500, 1_500, System::nanoTime);
    live.bindMembers(() -> {
      calls.incrementAndGet();
      if (failures.get() > 0 && failures.decrementAndGet() >= 0) {
        throw new IllegalStateException("member list not available");
      }
      return Set.of(self, second, third);
    });
    live.startPauseDetector();
    try {
      failures.set(3);
      await().atMost(Duration.ofSeconds(5)).until(() -> failures.get() <= 0 && calls.get() > 5);
      // Longer than the pause threshold (1.5 s): a dead ticker reads as a pause from then on, for good. A
      // live one may see a real stall of this machine, and recovers from it within the deadline.
      await().during(Duration.ofMillis(2_500)).atMost(Duration.ofSeconds(20)).until(() -> {
        live.onHeartbeat(second, 0);
        return live.hasQuorum();
      });
    } finally {
      live.close();
    }
  }

  private void tick(long millis) {
    now += TimeUnit.MILLISECONDS.toNanos(millis);
    guard.checkPause(now);
  }

  private static Member member(int i, boolean local) {
    try {
      return new MemberImpl(new Address("127.0.0.1", 5700 + i), MemberVersion.of("5.3.8"), local, UUID.randomUUID());
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aPartitionWhoseEveryCopyWasLostIsRefusedUntilItsMembersMergeBack() {
    guard.onHeartbeat(second, 0);
    guard.bindPartitions(key -> key.equals("lost") || key.equals("held") ? 7 : 8);
    guard.partitionLost(7);
    // Neither "not found" for a read nor a create of a second stream of that name: refused, retry later.
    assertThat(guard.absentRefusal("lost").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    assertThat(guard.absentRefusal("kept")).as("other partitions are served").isNull();
    // A stream this member holds survived: its entry proves it.
    assertThat(guard.refusal("held", true)).isNull();
    // The merged member announces the partitions whose entries it handed over; only those are served again.
    guard.partitionLost(9);
    guard.partitionsBack(Set.of(7, 3), "a member merged back");
    assertThat(guard.absentRefusal("lost")).isNull();
    guard.bindPartitions(key -> 9);
    assertThat(guard.absentRefusal("other").outcome()).isEqualTo(Outcome.PARTITION_LOST);
  }

  @Test
  void aMemberMergingBackAnswersNoAbsentStreamUntilItsWholeSideHasMerged() {
    guard.bindPartitions(key -> 7);
    // Cut off with one other member, it held both copies of partition 7 and never noted it as lost. The
    // merge resets it; the master may make it primary of partition 7 before the entries are back.
    guard.mergeStarted(Set.of("[10.0.0.3]:5701"));
    assertThat(guard.absentRefusal("s").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    guard.mergeFinished();
    assertThat(guard.absentRefusal("s").outcome()).as("the rest of its side is still merging")
        .isEqualTo(Outcome.PARTITION_LOST);
    guard.memberMerged("[10.0.0.9]:5701");
    assertThat(guard.absentRefusal("s").outcome()).as("a member of another side").isEqualTo(Outcome.PARTITION_LOST);
    guard.memberMerged("[10.0.0.3]:5701");
    assertThat(guard.absentRefusal("s")).as("every member of its side has merged: absent means absent").isNull();
  }

  @Test
  void aMergeAnnouncementThatNeverComesHoldsAbsentStreamsForTheSettleTimeOnly() {
    // A quorum of one: the time jumps below are not read as pauses of the process.
    QuorumGuard one = new QuorumGuard(1, 1, 2_500, 1_500, () -> now);
    one.bindMembers(() -> Set.of(self, second, third));
    one.bindPartitions(key -> 7);
    // The other member of its side merged first (its announcement came before this member had joined).
    one.mergeStarted(Set.of("[10.0.0.3]:5701"));
    now += TimeUnit.SECONDS.toNanos(5);
    one.mergeFinished();
    now += TimeUnit.MILLISECONDS.toNanos(QuorumGuard.MERGE_SETTLE_MILLIS - 1_000);
    assertThat(one.absentRefusal("s").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    now += TimeUnit.SECONDS.toNanos(2);
    assertThat(one.absentRefusal("s")).isNull();
  }

  @Test
  void aLostPartitionWhoseMembersNeverComeBackIsServedAgainAfterTheHold() {
    // A quorum of one: the time jumps below are not read as pauses of the process.
    QuorumGuard held = new QuorumGuard(1, 1, 2_500, 1_500, 60_000, () -> now);
    held.bindMembers(() -> Set.of(self, second, third));
    held.bindPartitions(key -> 7);
    held.partitionLost(7);
    now += TimeUnit.SECONDS.toNanos(59);
    assertThat(held.absentRefusal("s").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    now += TimeUnit.SECONDS.toNanos(2);
    assertThat(held.absentRefusal("s")).as("two members lost at once: the streams are gone, and said so").isNull();
  }

  /** A partition table moved by hand: partition id to the members holding its copies. */
  private static final class Table implements PartitionTable {
    private final Map<Integer, Member[]> copies = new ConcurrentHashMap<>();

    Table put(int partition, Member... members) {
      copies.put(partition, members);
      return this;
    }

    @Override
    public int partitionCount() {
      return 4;
    }

    @Override
    public UUID[] replicas(int id) {
      Member[] members = copies.getOrDefault(id, new Member[0]);
      UUID[] ids = new UUID[members.length];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = members[i].getUuid();
      }
      return ids;
    }
  }

  private final Member fourth = member(4, false);
  private final Member fifth = member(5, false);
  private final AtomicReference<Set<Member>> list =
      new AtomicReference<>(Set.of(self, second, third, fourth, fifth));

  private QuorumGuard fiveMembers(Table table) {
    QuorumGuard five = new QuorumGuard(1, 1, 2_500, 1_500, () -> now);
    five.bindMembers(list::get);
    five.bindPartitions(key -> Integer.parseInt(key.toString()));
    five.bindTable(table);
    return five;
  }

  @Test
  void twoMembersLeavingTogetherLoseThePartitionsWhoseEveryCopyTheyHeld() {
    Table table = new Table().put(0, second, third).put(1, second, fourth).put(2, self, second).put(3, third, fifth);
    QuorumGuard five = fiveMembers(table);
    assertThat(five.absentRefusal("0")).as("nobody left: absent is absent").isNull();
    // A 3|2 split: second and third are on the other side. The repaired table the master sends next gives
    // partition 0 to members with no copy of it: its absence here proves nothing.
    list.set(Set.of(self, fourth, fifth));
    table.put(0, fourth, self).put(1, fourth, self).put(2, self, fourth).put(3, fifth, self);
    assertThat(five.absentRefusal("0").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    assertThat(five.absentRefusal("1")).as("a copy was on fourth").isNull();
    assertThat(five.absentRefusal("2")).isNull();
    assertThat(five.absentRefusal("3")).isNull();
    assertThat(five.refusal("0", true)).as("a stream this member holds is served").isNull();
  }

  @Test
  void aSecondLossBeforeTheBackupIsRecreatedLosesThePromotedPartition() {
    Table table = new Table().put(0, second, third).put(1, second, fourth);
    QuorumGuard five = fiveMembers(table);
    list.set(Set.of(self, third, fourth, fifth));
    five.memberListChanged();
    assertThat(five.absentRefusal("0")).as("third holds the backup").isNull();
    // The master promotes the backups; no new backup has been copied yet when third goes too.
    table.put(0, third).put(1, fourth);
    five.memberListChanged();
    list.set(Set.of(self, fourth, fifth));
    five.memberListChanged();
    table.put(0, self, fourth).put(1, fourth, self);
    assertThat(five.absentRefusal("0").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    assertThat(five.absentRefusal("1")).isNull();
  }

  @Test
  void aTableThatStillNamesMembersThatLeftIsNotTakenAsTheLastWholeOne() {
    Table table = new Table().put(0, second, third);
    QuorumGuard five = fiveMembers(table);
    // second leaves; before the master repairs the table, a migration the others saw moved the backup:
    // this table still names second, so it is not kept as the last whole one...
    list.set(Set.of(self, third, fourth, fifth));
    table.put(0, second, fourth);
    five.memberListChanged();
    // ...and third leaving too loses partition 0 (per the last whole table), whatever came in between.
    list.set(Set.of(self, fourth, fifth));
    five.memberListChanged();
    assertThat(five.absentRefusal("0").outcome()).isEqualTo(Outcome.PARTITION_LOST);
  }

  @Test
  void oneMemberLostLosesNothing() {
    Table table = new Table().put(0, second, third).put(1, third, second).put(2, self, second);
    QuorumGuard five = fiveMembers(table);
    list.set(Set.of(self, third, fourth, fifth));
    five.memberListChanged();
    table.put(0, third, fourth).put(1, third, self).put(2, self, fourth);
    for (String key : new String[] {"0", "1", "2", "3"}) {
      assertThat(five.absentRefusal(key)).as(key).isNull();
    }
  }
}
