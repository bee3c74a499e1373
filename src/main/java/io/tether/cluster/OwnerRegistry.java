package io.tether.cluster;

import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The stream owners running on this node, by stream name. */
public final class OwnerRegistry {

  private final Map<String, StreamOwner> owners = new ConcurrentHashMap<>();

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

  public Collection<StreamOwner> all() {
    return owners.values();
  }
}
