/**
 * ttrpc-ts: a ttrpc client and server (unary calls over unix sockets), wire-compatible with containerd/ttrpc.
 * This file is the public surface only; see PROTOCOL.md for what is implemented and what is refused.
 */
export { Server, type ServerOptions, type ServerEvents, type ListenTarget } from './server';
export type { CallContext } from './server-connection';
export { Client, type CallOptions, type ConnectOptions, type ClientEvents } from './client';
export { requireSameUser, socketFd, type Handshake, type PeerCredentials, type PeerCredentialsReader } from './handshake';
export { Metadata, type MetadataInit } from './metadata';
export { Code, RpcError, codeName, isRpcError, toStatus, DEADLINE_EXCEEDED_MESSAGE, CANCELLED_MESSAGE } from './status';
export {
  TtrpcError,
  ClosedError,
  ServerClosedError,
  ProtocolError,
  DecodeError,
  OversizedMessageError,
  HandshakeError,
  DuplicateServiceError,
} from './errors';
export {
  renameService,
  type Codec,
  type MethodDefinition,
  type AnyMethodDefinition,
  type ServiceDefinition,
  type AnyServiceDefinition,
  type ServiceImplementation,
  type ServiceClient,
  type RequestOf,
  type ResponseOf,
} from './service';
// Wire-level pieces, for tools and tests that speak raw ttrpc.
export { FrameType, FrameFlag, HEADER_LENGTH, MAX_MESSAGE_LENGTH, encodeFrame, decodeHeader, type FrameHeader } from './frame';
export {
  encodeRequest,
  decodeRequest,
  encodeResponse,
  decodeResponse,
  type RequestEnvelope,
  type ResponseEnvelope,
  type StatusMessage,
  type KeyValue,
  type AnyMessage,
} from './codec';
