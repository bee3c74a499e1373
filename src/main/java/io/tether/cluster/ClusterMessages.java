package io.tether.cluster;

import io.tether.cluster.live.LivePush;
import io.tether.cluster.owner.CommandReply;
import io.tether.cluster.owner.OwnerInfo;
import io.tether.cluster.routing.Activate;
import io.tether.cluster.routing.StreamRequest;
import io.tether.wire.WireTypes;

/** Registers the wire decoders of the cluster layer's messages. */
public final class ClusterMessages {

  private ClusterMessages() {
  }

  public static void register() {
    StreamRequest.register();
    WireTypes.register(OwnerInfo.WIRE_TYPE, OwnerInfo::readFrom);
    WireTypes.register(Activate.WIRE_TYPE, Activate::readFrom);
    WireTypes.register(LivePush.WIRE_TYPE, LivePush::readFrom);
    WireTypes.register(CommandReply.WIRE_TYPE, CommandReply::readFrom);
  }
}
