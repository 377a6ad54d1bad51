package com.reactive.platform.gateway.microbatch;

/**
 * Where an acknowledged event is stored: the Kafka partition and offset of the record (the
 * frame) that holds it, and its index inside that frame. Together they identify the event.
 *
 * <p>Sinks without partitions or offsets (a {@link BatchSink}) report {@code -1} for both, as
 * the C library's callback sink does.
 *
 * @param partition Kafka partition of the record, or -1
 * @param offset    offset of the record in that partition, or -1
 * @param index     position of the event in its frame, from 0
 */
public record Ack(int partition, long offset, int index) {
}
