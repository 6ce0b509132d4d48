/**
 * An OCI image tarball built from a rootfs without a registry (RECIPES "An OCI image without a
 * registry"): oci-layout, index.json naming the image, a manifest, a config with diff_ids, and one
 * uncompressed layer; importable with `ctr images import`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ImageSpec {
  /** Full name, e.g. docker.io/library/bb:1. */
  name: string;
  rootfs: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes the image tarball to `out` and returns `out`. */
export function buildImage(spec: ImageSpec, out: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsrunc-image-'));
  try {
    const blobs = join(dir, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTar = join(dir, 'layer.tar');
    execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', spec.rootfs, '-cf', layerTar, '.']);
    const layer = readFileSync(layerTar);
    const layerDigest = sha256(layer);
    writeFileSync(join(blobs, layerDigest), layer);
    rmSync(layerTar);

    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: {
          Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
          Entrypoint: spec.entrypoint ?? null,
          Cmd: spec.cmd ?? ['/bin/sh'],
          WorkingDir: spec.workingDir ?? '/',
        },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      }),
    );
    const configDigest = sha256(config);
    writeFileSync(join(blobs, configDigest), config);

    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
      }),
    );
    const manifestDigest = sha256(manifest);
    writeFileSync(join(blobs, manifestDigest), manifest);

    const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
    writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: `sha256:${manifestDigest}`,
            size: manifest.length,
            annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    );
    execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', out, 'oci-layout', 'index.json', 'blobs']);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
