/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QUIC AES-GCM packet protection in TC, standalone (issue 16, first session): the programs the unit tests run
 * through BPF_PROG_TEST_RUN. Not wired into the relay yet; bpf-templates/relay.bpf.c is unchanged.
 *
 *   quic_install_keys (syscall, fr_quic_install.h): creates the AEAD and header protection ecb(aes) contexts of one
 *       key set from the key bytes in its context and stores them as kptrs in fr_quic_ctxs[slot * 2 + phase].
 *   quic_seal (tc): the frame's UDP payload is one QUIC packet with its header in clear (packet number unmasked), the
 *       plaintext payload and 16 bytes of room for the tag; the connection is skb->mark. Sets the key phase bit of a
 *       short header to the connection's send phase, seals, applies header protection.
 *   quic_open (tc): the reverse; picks the key set by the key phase bit, checks the tag before writing anything, and
 *       leaves the header unprotected and the payload in clear (the tag bytes stay). A forged packet: TC_ACT_SHOT,
 *       packet unchanged.
 * Long headers are accepted too (the RFC 9001 A.2 Initial vector): fr_quic_conn.pn_offset says where the packet
 * number is, so nothing here parses QUIC beyond the first byte.
 */
#include "fr_crypto_kfuncs.h"
#include "fr_quic_crypto.h"
#include "fr_quic_packet.h"
#include "fr_quic_install.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int quic_seal(struct __sk_buff *skb)
{
	__u32 slot = skb->mark, quic_off, quic_len, pn_len;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	__s64 old_sum, new_sum;
	__u64 pn, *largest;
	int stat;

	if (fr_qc_prepare(skb, slot, FR_QC_SCRATCH_SEAL, &s, &conn, &largest, &quic_off, &quic_len))
		return TC_ACT_OK;
	old_sum = fr_qc_sum(s, quic_len, 0);
	/* The full packet number from the field (these programs are given packets numbered by someone else). */
	pn_len = (s->pkt[0] & 0x03) + 1;
	pn = fr_qc_decode_pn(*largest, fr_qc_read_pn(s, conn->pn_offset, pn_len), pn_len);
	stat = fr_qc_seal_scratch(FR_QC_SCRATCH_SEAL, s, conn, slot, quic_len, pn, conn->send_phase);
	if (stat) {
		fr_qc_count(stat);
		return TC_ACT_OK;
	}
	new_sum = fr_qc_sum(s, quic_len, 0);
	if (quic_len > FR_QC_MAX_PACKET || bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len, 0))
		return TC_ACT_SHOT;
	if (fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum))
		return TC_ACT_SHOT;
	fr_qc_raise_largest(largest, pn);
	fr_qc_count(FR_QC_SEALED);
	return TC_ACT_OK;
}

SEC("tc")
int quic_open(struct __sk_buff *skb)
{
	__u32 slot = skb->mark, quic_off, quic_len, header_len = 0;
	struct fr_quic_conn *conn;
	struct fr_qc_scratch *s;
	__s64 old_sum, new_sum;
	__u64 pn = 0, *largest;
	int stat;

	if (fr_qc_prepare(skb, slot, FR_QC_SCRATCH_OPEN, &s, &conn, &largest, &quic_off, &quic_len))
		return TC_ACT_OK;
	/* Header and payload change, the tag stays: the checksum diff covers [0, quic_len - 16). */
	old_sum = fr_qc_sum(s, quic_len - FR_QC_TAG_LEN, 0);
	stat = fr_qc_open_scratch(FR_QC_SCRATCH_OPEN, s, conn, *largest, slot, quic_len, &pn, &header_len);
	if (stat) {
		fr_qc_count(stat);
		return TC_ACT_SHOT;
	}
	/* Authenticated: now the header and plaintext may replace the packet's bytes (the tag stays as it was). */
	new_sum = fr_qc_sum(s, quic_len - FR_QC_TAG_LEN, 0);
	if (bpf_skb_store_bytes(skb, quic_off, s->pkt, quic_len - FR_QC_TAG_LEN, 0))
		return TC_ACT_SHOT;
	if (fr_qc_fix_udp_csum(skb, quic_off, old_sum, new_sum))
		return TC_ACT_SHOT;
	fr_qc_raise_largest(largest, pn);
	fr_qc_count(FR_QC_OPENED);
	return TC_ACT_OK;
}
