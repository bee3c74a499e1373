package io.tether.cluster;

import io.vertx.core.Future;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** The stream owners running on this node, by stream name. */
public final class OwnerRegistry {

  private final Map<String, StreamOwner> owners = new ConcurrentHashMap<>();
  private final Set<StreamOwner> retiring = ConcurrentHashMap.newKeySet();
  private final AtomicInteger operationsInFlight = new AtomicInteger();

  void add(StreamOwner owner) {
    owners.put(owner.stream(), owner);
  }

  void remove(StreamOwner owner) {
    owners.remove(owner.stream(), owner);
  }

  public StreamOwner get(String stream) {
    return owners.get(stream);
  }

  public int size() {
    return owners.size();
  }

  /** Retires every owner on this node (handover at shutdown). */
  public void retireAll(String why) {
    for (StreamOwner owner : owners.values()) {
      owner.retireAsync(why);
    }
  }

  /** Entry processors submitted by owners on this node and not yet answered. */
  public int operationsInFlight() {
    return operationsInFlight.get();
  }

  AtomicInteger operationCounter() {
    return operationsInFlight;
  }

  void retiring(StreamOwner owner) {
    retiring.add(owner);
  }

  void retired(StreamOwner owner) {
    retiring.remove(owner);
  }

  /** Unregisters the addresses of every owner that stepped down but still answers MOVED (shutdown). */
  public Future<Void> unregisterRetired() {
    List<Future<Void>> all = new ArrayList<>();
    for (StreamOwner owner : retiring) {
      all.add(owner.unregister());
    }
    return Future.join(all).mapEmpty();
  }

  public Collection<StreamOwner> all() {
    return owners.values();
  }
}
