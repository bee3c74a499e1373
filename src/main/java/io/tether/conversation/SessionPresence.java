package io.tether.conversation;

import io.tether.conversation.SessionCommand.Result;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

import java.util.HashSet;
import java.util.Set;

import static io.tether.conversation.SessionEvents.DEVICE_JOINED;
import static io.tether.conversation.SessionEvents.DEVICE_LEFT;
import static io.tether.conversation.SessionEvents.event;

/**
 * Which devices follow a session: each node that holds a device's connection renews its lease, a lease
 * that lapses counts as the device leaving, and the stream gets {@code device.joined} and
 * {@code device.left} events within each device's budget (a burst, then one per interval), so a device
 * flapping on a bad network cannot flood the session. Leases lapse in the owner's periodic sweep; a
 * timer runs only while an event is owed and its budget refills.
 */
final class SessionPresence {

  /** Devices tracked per session, and the presence events each may cause (a burst, then one per interval). */
  static final int MAX_DEVICES = 32;
  static final int PRESENCE_BURST = 4;
  static final long PRESENCE_REFILL_MILLIS = 15_000;

  private final SessionJournal journal;
  private final Vertx vertx;
  private final DevicePresence presence;
  /** Devices whose joined or left event is being appended (so it is appended once). */
  private final Set<String> announcing = new HashSet<>();
  private long reconcileTimer = -1;

  SessionPresence(SessionJournal journal, Vertx vertx, long leaseMillis) {
    this.journal = journal;
    this.vertx = vertx;
    this.presence = new DevicePresence(MAX_DEVICES, PRESENCE_BURST, PRESENCE_REFILL_MILLIS, leaseMillis);
  }

  /** Devices the previous owner saw stay listed until their leases, renewed by their nodes, lapse. */
  void restore() {
    presence.restore(journal.state().devices(), System.currentTimeMillis());
  }

  /** A node reports a device connected ({@code join}) or gone. */
  Future<Result> report(String device, String node, boolean join) {
    if (device == null || device.isEmpty()) {
      return Future.succeededFuture(Result.error(400, "invalid_command", "presence needs a device"));
    }
    if (join) {
      presence.join(device, node, System.currentTimeMillis());
    } else {
      presence.leave(device, node);
    }
    announce();
    return Future.succeededFuture(Result.ok(new JsonObject().put("device", device)));
  }

  /** Lets lapsed leases go (from the owner's sweep). */
  void expire() {
    presence.expire(System.currentTimeMillis());
    announce();
  }

  /** Devices present, or presence events owed or being written. */
  boolean busy() {
    return presence.trackedDevices() > 0 || !announcing.isEmpty() || reconcileTimer >= 0;
  }

  void stop() {
    if (reconcileTimer >= 0) {
      vertx.cancelTimer(reconcileTimer);
      reconcileTimer = -1;
    }
  }

  /**
   * Appends the joined and left events the stream owes (within each device's budget), and wakes up
   * when the next one's budget refills.
   */
  private void announce() {
    if (journal.stopped()) {
      return;
    }
    long now = System.currentTimeMillis();
    for (DevicePresence.Change change : presence.due(journal.state().devices(), announcing, now)) {
      String device = change.device();
      announcing.add(device);
      journal.emit(event(change.joined() ? DEVICE_JOINED : DEVICE_LEFT).put("device", device))
          .onComplete(ar -> announcing.remove(device));
    }
    long next = presence.nextDueAt(journal.state().devices(), now);
    if (next > now && reconcileTimer < 0) {
      reconcileTimer = vertx.setTimer(next - now, t -> {
        reconcileTimer = -1;
        announce();
      });
    }
  }
}
