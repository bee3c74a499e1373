package io.tether.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.impl.MemberImpl;
import com.hazelcast.version.MemberVersion;
import io.tether.stream.Outcome;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.UnknownHostException;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

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
    guard.bindPartitions(key -> key.equals("lost") ? 7 : 8);
    guard.partitionLost(7);
    // Neither "not found" for a read nor a create of a second stream of that name: refused, retry later.
    assertThat(guard.refusal("lost", false).outcome()).isEqualTo(Outcome.PARTITION_LOST);
    assertThat(guard.refusal("lost", true).outcome()).isEqualTo(Outcome.PARTITION_LOST);
    assertThat(guard.refusal("kept", true)).as("other partitions are served").isNull();
    // The merged member announces the partitions whose entries it handed over; only those are served again.
    guard.partitionLost(9);
    guard.partitionsBack(Set.of(7, 3), "a member merged back");
    assertThat(guard.refusal("lost", true)).isNull();
    guard.bindPartitions(key -> 9);
    assertThat(guard.refusal("other", false).outcome()).isEqualTo(Outcome.PARTITION_LOST);
  }

  @Test
  void aLostPartitionWhoseMembersNeverComeBackIsServedAgainAfterTheHold() {
    // A quorum of one: the time jumps below are not read as pauses of the process.
    QuorumGuard held = new QuorumGuard(1, 1, 2_500, 1_500, 60_000, () -> now);
    held.bindMembers(() -> Set.of(self, second, third));
    held.bindPartitions(key -> 7);
    held.partitionLost(7);
    now += TimeUnit.SECONDS.toNanos(59);
    assertThat(held.refusal("s", false).outcome()).isEqualTo(Outcome.PARTITION_LOST);
    now += TimeUnit.SECONDS.toNanos(2);
    assertThat(held.refusal("s", false)).as("two members lost at once: the streams are gone, and said so").isNull();
  }

  @Test
  void anAbsentStreamIsNotTakenAsAbsentRightAfterTwoMembersLeft() {
    Member fourth = member(4, false);
    java.util.concurrent.atomic.AtomicReference<Set<Member>> list = new java.util.concurrent.atomic.AtomicReference<>(
        Set.of(self, second, third, fourth, member(5, false)));
    QuorumGuard five = new QuorumGuard(1, 1, 2_500, 1_500, () -> now);
    five.bindMembers(list::get);
    five.bindPartitions(key -> 7);
    assertThat(five.absentRefusal("s")).as("nobody left: absent is absent").isNull();
    // One member lost: its partitions all had a copy elsewhere.
    list.set(Set.of(self, second, third, fourth));
    assertThat(five.absentRefusal("s")).isNull();
    // A second one soon after: a partition may have lost both copies, and its lost event may not have
    // arrived yet.
    now += TimeUnit.SECONDS.toNanos(10);
    list.set(Set.of(self, second, third));
    assertThat(five.absentRefusal("s").outcome()).isEqualTo(Outcome.PARTITION_LOST);
    now += TimeUnit.SECONDS.toNanos(6);
    assertThat(five.absentRefusal("s")).as("the events have had their time").isNull();
  }

  @Test
  void theSettleTimeRunsFromTheLossNotFromTheNextLookup() {
    Member fourth = member(4, false);
    Member fifth = member(5, false);
    java.util.concurrent.atomic.AtomicReference<Set<Member>> list = new java.util.concurrent.atomic.AtomicReference<>(
        Set.of(self, second, third, fourth, fifth));
    QuorumGuard five = new QuorumGuard(1, 1, 2_500, 1_500, () -> now);
    five.bindMembers(list::get);
    five.bindPartitions(key -> 7);
    list.set(Set.of(self, second, third));
    five.memberListChanged();
    // The first create after the split comes 30 s later: long after the lost events arrived.
    now += TimeUnit.SECONDS.toNanos(30);
    assertThat(five.absentRefusal("s")).isNull();
  }
}
