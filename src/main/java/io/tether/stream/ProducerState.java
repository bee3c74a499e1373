package io.tether.stream;

/** Last accepted (epoch, sequence) of one idempotent producer on one stream. */
final class ProducerState {
  long epoch;
  long lastSeq;
  long touchedMillis;

  ProducerState(long epoch, long lastSeq, long touchedMillis) {
    this.epoch = epoch;
    this.lastSeq = lastSeq;
    this.touchedMillis = touchedMillis;
  }
}
