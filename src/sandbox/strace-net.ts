/**
 * Network values in strace's output: socket addresses (AF_INET, AF_INET6, AF_UNIX, ...), the
 * data buffers of sendmsg/sendmmsg, and the names asked for in DNS queries carried by them.
 * Depends on ./strace-syntax and the event types.
 */
import { atomText, field, textOf } from './strace-syntax';
import type { Value } from './strace-syntax';
import type { Family, NetEvent } from './trace-events';

/** Family, address and port of a `struct sockaddr` value. */
export function sockaddr(
  value: Value | undefined,
): { family: Family; address?: string; port?: number } | undefined {
  if (value?.t !== 'struct') return undefined;
  const family = atomText(field(value, 'sa_family'));
  if (!family) return undefined;
  const portOf = (key: string): number | undefined => {
    const v = field(value, key);
    const n = v?.t === 'call' ? Number(atomText(v.args[0])) : Number(atomText(v));
    return Number.isInteger(n) ? n : undefined;
  };
  if (family === 'AF_INET') {
    const addr = field(value, 'sin_addr');
    const address = addr?.t === 'call' ? textOf(addr.args[0]) : undefined;
    return { family: 'inet', address, port: portOf('sin_port') };
  }
  if (family === 'AF_INET6') {
    const pton = value.fields.find((f) => f.value.t === 'call' && f.value.name === 'inet_pton');
    const address = pton?.value.t === 'call' ? textOf(pton.value.args[1]) : undefined;
    return { family: 'inet6', address, port: portOf('sin6_port') };
  }
  if (family === 'AF_UNIX') {
    const path = field(value, 'sun_path');
    const text = path?.t === 'str' ? path.bytes.toString('utf8').replace(/\0+$/, '') : undefined;
    return { family: 'unix', address: text };
  }
  return { family: family === 'AF_NETLINK' ? 'netlink' : 'other', address: family };
}

/** The data buffers of a `struct msghdr`. */
export function iovecs(msghdr: Value | undefined): Value[] {
  const iov = field(msghdr, 'msg_iov');
  if (iov?.t !== 'array') return [];
  return iov.items.map((item) => field(item, 'iov_base')).filter((v): v is Value => !!v);
}

export function withDns(event: NetEvent, buffers: Array<Value | undefined>): NetEvent {
  if (event.family !== 'inet' && event.family !== 'inet6') return event;
  const names = buffers.flatMap((b) => (b?.t === 'str' ? dnsNames(b.bytes, event.port) : []));
  return names.length > 0 ? { ...event, dns: [...new Set(names)] } : event;
}

/**
 * The question names of a DNS query: over UDP it starts at the header, over TCP after a
 * two-byte length. Returns nothing for data that is not a well-formed query.
 */
export function dnsNames(data: Buffer, port?: number): string[] {
  for (const offset of port === 53 ? [0, 2] : [0]) {
    const names = questions(data.subarray(offset));
    if (names.length > 0) return names;
  }
  return [];
}

function questions(msg: Buffer): string[] {
  if (msg.length < 17) return [];
  const flags = msg.readUInt16BE(2);
  const count = msg.readUInt16BE(4);
  // a query (QR clear), standard opcode, a few questions
  if (flags & 0x8000 || (flags >> 11) & 0xf || count === 0 || count > 8) return [];
  const names: string[] = [];
  let i = 12;
  for (let q = 0; q < count; q++) {
    const labels: string[] = [];
    while (i < msg.length) {
      const len = msg[i] ?? 0;
      i++;
      if (len === 0) break;
      if (len > 63 || i + len > msg.length) return names;
      labels.push(msg.subarray(i, i + len).toString('latin1'));
      i += len;
    }
    i += 4;
    if (labels.length > 0) names.push(labels.join('.'));
  }
  return names;
}
