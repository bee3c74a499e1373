package io.tether.conversation;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which devices of a session are connected, and which {@code device.joined} / {@code device.left}
 * events the session owes its stream. Pure: the clock is passed in, and the owner's companion turns
 * {@link #due} into appends.
 *
 * <p>A device is connected while at least one node renews its lease. Presence is reported by nodes on
 * behalf of any reader, including holders of a read token who choose their device name, so what it can
 * write is bounded:
 * <ul>
 *   <li>at most {@code maxDevices} devices are tracked per session; joins of further devices are
 *       ignored until one leaves;</li>
 *   <li>each device has a budget of {@code burst} events, refilled by one every {@code refillMillis}:
 *       a device that flaps faster is announced in its final state once budget is back, not at every
 *       flap.</li>
 * </ul>
 */
final class DevicePresence {

  /** An event the session owes: {@code device} joined ({@code joined}) or left. */
  record Change(String device, boolean joined) {
  }

  private final int maxDevices;
  private final int burst;
  private final long refillMillis;
  private final long leaseMillis;
  /** Connected devices: device, then the nodes holding its connections and their lease expiry. */
  private final Map<String, Map<String, Long>> connected = new LinkedHashMap<>();
  private final Map<String, Budget> budgets = new HashMap<>();

  private static final class Budget {
    double tokens;
    long at;

    Budget(double tokens, long at) {
      this.tokens = tokens;
      this.at = at;
    }
  }

  DevicePresence(int maxDevices, int burst, long refillMillis, long leaseMillis) {
    this.maxDevices = maxDevices;
    this.burst = burst;
    this.refillMillis = refillMillis;
    this.leaseMillis = leaseMillis;
  }

  /** After a restore: the devices the stream says are joined stay so until their nodes' leases lapse. */
  void restore(Set<String> devices, long now) {
    for (String device : devices) {
      if (connected.size() < maxDevices) {
        connected.computeIfAbsent(device, d -> new HashMap<>()).put("", now + leaseMillis);
      }
    }
  }

  /** A node holds a connection of {@code device} (first report, or a lease renewal). */
  void join(String device, String node, long now) {
    Map<String, Long> nodes = connected.get(device);
    if (nodes == null) {
      if (connected.size() >= maxDevices) {
        return;
      }
      nodes = new HashMap<>();
      connected.put(device, nodes);
    }
    nodes.put(node, now + leaseMillis);
  }

  /** The node's last connection of {@code device} closed. */
  void leave(String device, String node) {
    Map<String, Long> nodes = connected.get(device);
    if (nodes != null) {
      nodes.remove(node);
      nodes.remove("");
      if (nodes.isEmpty()) {
        connected.remove(device);
      }
    }
  }

  /** Drops leases that were not renewed. */
  void expire(long now) {
    Iterator<Map<String, Long>> it = connected.values().iterator();
    while (it.hasNext()) {
      Map<String, Long> nodes = it.next();
      nodes.values().removeIf(expiry -> expiry < now);
      if (nodes.isEmpty()) {
        it.remove();
      }
    }
  }

  boolean isConnected(String device) {
    return connected.containsKey(device);
  }

  int trackedDevices() {
    return connected.size();
  }

  /**
   * The events owed now: a connected device that {@code announced} does not list joined, an announced
   * one that is no longer connected left; each takes one unit of its device's budget. {@code busy}
   * devices (an event of theirs is being appended) are skipped.
   */
  List<Change> due(Set<String> announced, Set<String> busy, long now) {
    List<Change> changes = new ArrayList<>();
    for (String device : connected.keySet()) {
      if (!announced.contains(device) && !busy.contains(device) && take(device, now)) {
        changes.add(new Change(device, true));
      }
    }
    for (String device : announced) {
      if (!connected.containsKey(device) && !busy.contains(device) && take(device, now)) {
        changes.add(new Change(device, false));
      }
    }
    budgets.values().removeIf(b -> refilled(b, now) >= burst);
    return changes;
  }

  /** When the next owed event's budget refills (epoch millis), or {@code -1} when nothing is owed. */
  long nextDueAt(Set<String> announced, long now) {
    long next = -1;
    for (String device : connected.keySet()) {
      if (!announced.contains(device)) {
        next = earliest(next, readyAt(device, now));
      }
    }
    for (String device : announced) {
      if (!connected.containsKey(device)) {
        next = earliest(next, readyAt(device, now));
      }
    }
    return next;
  }

  private static long earliest(long a, long b) {
    return a < 0 ? b : Math.min(a, b);
  }

  private long readyAt(String device, long now) {
    Budget b = budgets.get(device);
    if (b == null) {
      return now;
    }
    double tokens = refilled(b, now);
    return tokens >= 1 ? now : now + (long) Math.ceil((1 - tokens) * refillMillis);
  }

  private boolean take(String device, long now) {
    Budget b = budgets.computeIfAbsent(device, d -> new Budget(burst, now));
    b.tokens = refilled(b, now);
    b.at = now;
    if (b.tokens < 1) {
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  private double refilled(Budget b, long now) {
    return Math.min(burst, b.tokens + (double) Math.max(0, now - b.at) / refillMillis);
  }
}
