package io.tether.cluster;

import io.tether.wire.WireInput;
import io.tether.wire.WireOutput;

/**
 * Who a node is, as reported by the admin API: the Vert.x node id (also its Hazelcast member
 * attribute), its HTTP port and its process id.
 */
public record NodeIdentity(String nodeId, int httpPort, long pid) {

  public void writeTo(WireOutput out) {
    out.writeString(nodeId);
    out.writeInt(httpPort);
    out.writeLong(pid);
  }

  public static NodeIdentity readFrom(WireInput in) {
    return new NodeIdentity(in.readString(), in.readInt(), in.readLong());
  }
}
