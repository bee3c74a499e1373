package io.tether.conversation;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The presence events a session owes its stream, and how many any reader can make it write. */
class DevicePresenceTest {

  private static final long LEASE = 3_000;
  private static final long REFILL = 10_000;

  private final DevicePresence presence = new DevicePresence(3, 2, REFILL, LEASE);
  /** What the stream says: the devices whose joined event was appended and not followed by left. */
  private final Set<String> announced = new HashSet<>();

  private List<DevicePresence.Change> announce(long now) {
    List<DevicePresence.Change> due = presence.due(announced, Set.of(), now);
    for (DevicePresence.Change change : due) {
      if (change.joined()) {
        announced.add(change.device());
      } else {
        announced.remove(change.device());
      }
    }
    return due;
  }

  @Test
  void aDeviceJoinsWhileANodeRenewsItsLeaseAndLeavesWhenNoneDoes() {
    presence.join("phone", "node-1", 0);
    assertThat(announce(0)).containsExactly(new DevicePresence.Change("phone", true));
    presence.join("phone", "node-2", 1_000);
    presence.leave("phone", "node-1");
    assertThat(announce(1_000)).isEmpty();
    presence.expire(1_000 + LEASE + 1);
    assertThat(announce(1_000 + LEASE + 1)).containsExactly(new DevicePresence.Change("phone", false));
    assertThat(announce(1_000 + LEASE + 2)).isEmpty();
  }

  @Test
  void onlyABoundedNumberOfDevicesIsTracked() {
    for (int i = 0; i < 100; i++) {
      presence.join("d" + i, "node", 0);
    }
    assertThat(presence.trackedDevices()).isEqualTo(3);
    assertThat(announce(0)).hasSize(3);
    presence.leave("d0", "node");
    presence.join("d50", "node", 1);
    assertThat(presence.isConnected("d50")).as("a place freed by a leave can be taken").isTrue();
  }

  @Test
  void aFlappingDeviceIsAnnouncedWithinItsBudgetAndEndsInItsFinalState() {
    long now = 0;
    int events = 0;
    for (int flap = 0; flap < 50; flap++) {
      presence.join("flappy", "node", now);
      events += announce(now).size();
      presence.leave("flappy", "node");
      events += announce(now).size();
      now += 100;
    }
    assertThat(events).as("a burst of two, then nothing until the budget refills").isEqualTo(2);
    // It finally stays connected: once budget is back, that state is announced.
    presence.join("flappy", "node", now);
    assertThat(announce(now)).isEmpty();
    long due = presence.nextDueAt(announced, now);
    assertThat(due).isGreaterThan(now).isLessThanOrEqualTo(now + REFILL);
    presence.join("flappy", "node", due);
    assertThat(announce(due)).containsExactly(new DevicePresence.Change("flappy", true));
    assertThat(presence.nextDueAt(announced, due)).isEqualTo(-1);
  }

  @Test
  void devicesRestoredFromTheStreamStayUntilTheirLeasesLapse() {
    presence.restore(Set.of("laptop"), 0);
    announced.add("laptop");
    assertThat(announce(LEASE - 1)).isEmpty();
    presence.expire(LEASE + 1);
    assertThat(announce(LEASE + 1)).containsExactly(new DevicePresence.Change("laptop", false));
  }

  @Test
  void aDeviceWhoseEventIsBeingAppendedIsNotAnnouncedTwice() {
    presence.join("tablet", "node", 0);
    assertThat(presence.due(announced, Set.of("tablet"), 0)).isEmpty();
    assertThat(presence.due(announced, Set.of(), 0)).hasSize(1);
  }
}
