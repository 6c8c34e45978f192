/**
 * A real Orthanc with its DICOMweb plugin, started by the test on 127.0.0.1 (free HTTP and DICOM
 * ports, temp storage, generated JSON config, bounded wait on /system) and stopped after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/freePort.js';
import { join } from 'node:path';
import { hasTool, tempDir } from './dicomTools.js';

const PLUGIN_DIRS = ['/usr/share/orthanc/plugins', '/usr/lib/orthanc/plugins', '/usr/local/share/orthanc/plugins'];

export function dicomwebPlugin(): string | undefined {
  for (const d of PLUGIN_DIRS) if (existsSync(join(d, 'libOrthancDicomWeb.so'))) return join(d, 'libOrthancDicomWeb.so');
  return undefined;
}

export function skipWithoutOrthanc(): string | false {
  if (!hasTool('Orthanc')) return 'needs Orthanc (.ci/setup.d/30-dicom.sh installs orthanc)';
  if (!dicomwebPlugin()) return 'needs the Orthanc DICOMweb plugin (orthanc-dicomweb)';
  return false;
}

export interface RunningOrthanc {
  http: string;
  dicomweb: string;
  stop(): Promise<void>;
}

export async function startOrthanc(): Promise<RunningOrthanc> {
  const dir = tempDir('medsam2-orthanc-');
  const [httpPort, dicomPort] = [await freePort(), await freePort()];
  const config = {
    Name: 'MEDSAM2TEST',
    StorageDirectory: join(dir, 'db'),
    IndexDirectory: join(dir, 'db'),
    HttpPort: httpPort,
    DicomPort: dicomPort,
    DicomAet: 'MEDSAM2TEST',
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    HttpDescribeErrors: true,
    Plugins: [dicomwebPlugin()],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
  };
  const cfg = join(dir, 'orthanc.json');
  writeFileSync(cfg, JSON.stringify(config, null, 2));
  const log: string[] = [];
  const proc: ChildProcess = spawn('Orthanc', [cfg], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
  proc.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  const http = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Orthanc exited (${proc.exitCode}): ${log.join('').slice(-2000)}`);
    try {
      const r = await fetch(`${http}/system`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`Orthanc did not answer /system within 30 s: ${log.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    http,
    dicomweb: `${http}/dicom-web`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}
