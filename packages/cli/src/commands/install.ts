/**
 * `cloister install`: render the whole add-on (node agent, quote helper, webhook, attestation service, key broker)
 * as Kubernetes manifests, to stdout or a directory. Rendering only: apply with `| kubectl apply -f -`.
 * See docs/operators/install.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  IMAGES,
  PARTS,
  WebhookError,
  createCa,
  groupsToYaml,
  listing,
  objectsToJson,
  objectsToYaml,
  renderInstall,
  resolveOptions,
  uninstallOrder,
  writeGroups,
  type CertificateAuthority,
  type ImageName,
  type InstallOptions,
  type JsonObject,
  type Part,
} from '@cloister/webhook';
import { CliError } from '../errors.js';
import { printJson } from '../output.js';

export interface InstallCommandOptions {
  readonly output?: string;
  readonly outDir?: string;
  readonly dryRun?: boolean;
  readonly uninstall?: boolean;
  readonly simulate?: boolean;
  readonly epcMib?: string;
  readonly namespace?: string;
  readonly nodeNamespace?: string;
  readonly registry?: string;
  readonly tag?: string;
  readonly image?: string[];
  readonly include?: string;
  readonly exclude?: string;
  readonly certManager?: boolean;
  readonly caDir?: string;
  readonly prometheusOperator?: boolean;
  readonly storage?: string;
  readonly databaseSecret?: string;
  readonly kekSecret?: string;
  readonly epcResource?: string;
  readonly nodeCapacity?: boolean;
  readonly pccs?: string;
  readonly adminTokenSecret?: string;
  readonly json?: boolean;
}

function partsList(text: string, what: string): Part[] {
  const list = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const bad = list.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (bad.length > 0) throw new CliError('INVALID_ARGUMENT', `${what}: unknown part ${bad.join(', ')} (use ${PARTS.join(',')})`);
  return list as Part[];
}

function images(list: readonly string[] | undefined): Partial<Record<ImageName, string>> {
  const out: Partial<Record<ImageName, string>> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    const name = item.slice(0, eq);
    if (eq < 1 || !(IMAGES as readonly string[]).includes(name) || item.length === eq + 1) {
      throw new CliError('INVALID_ARGUMENT', `--image ${JSON.stringify(item)}: expected NAME=REF with NAME one of ${IMAGES.join(', ')}`);
    }
    out[name as ImageName] = item.slice(eq + 1);
  }
  return out;
}

/** --ca-dir: reuse ca.crt/ca.key there, or create them there (0600 key) so the next install signs with the same CA. */
async function caFromDir(dir: string): Promise<CertificateAuthority> {
  const certFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'ca.key');
  if (existsSync(certFile) && existsSync(keyFile)) {
    try {
      return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
    } catch (e) {
      throw new CliError('INPUT_UNREADABLE', `cannot read the CA in ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const ca = await createCa(new Date());
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(certFile, ca.certPem, { mode: 0o644 });
    writeFileSync(keyFile, ca.keyPem, { mode: 0o600 });
  } catch (e) {
    throw new CliError('OUTPUT_UNWRITABLE', `cannot write the CA to ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return ca;
}

/** What --uninstall needs: identity only (no Secret contents on stdout). */
function identity(o: JsonObject): JsonObject {
  const meta = (o['metadata'] ?? {}) as JsonObject;
  return {
    apiVersion: o['apiVersion'] ?? null,
    kind: o['kind'] ?? null,
    metadata: { name: meta['name'] ?? null, ...(meta['namespace'] !== undefined ? { namespace: meta['namespace'] } : {}) },
  };
}

async function options(opts: InstallCommandOptions): Promise<InstallOptions> {
  let parts: Part[] = opts.include !== undefined ? partsList(opts.include, '--include') : [...PARTS];
  if (opts.exclude !== undefined) {
    const ex = partsList(opts.exclude, '--exclude');
    parts = parts.filter((p) => !ex.includes(p));
  }
  if (opts.storage !== undefined && opts.storage !== 'postgres' && opts.storage !== 'embedded') {
    throw new CliError('INVALID_ARGUMENT', '--storage must be postgres or embedded');
  }
  if (opts.epcResource !== undefined && opts.epcResource !== 'aks' && opts.epcResource !== 'intel') {
    throw new CliError('INVALID_ARGUMENT', '--epc-resource must be aks (kubernetes.azure.com/sgx_epc_mem_in_MiB) or intel (sgx.intel.com/epc)');
  }
  if (opts.epcMib !== undefined && !/^\d{1,7}$/.test(opts.epcMib)) throw new CliError('INVALID_ARGUMENT', '--epc-mib must be an integer');
  if (opts.certManager === true && opts.caDir !== undefined) throw new CliError('INVALID_ARGUMENT', '--ca-dir and --cert-manager exclude each other');
  const uninstall = opts.uninstall === true;
  return resolveOptions({
    parts,
    simulate: opts.simulate === true,
    simulatedEpcMiB: opts.epcMib !== undefined ? Number(opts.epcMib) : undefined,
    namespace: opts.namespace,
    nodeNamespace: opts.nodeNamespace,
    registry: opts.registry,
    tag: opts.tag,
    images: images(opts.image),
    certificates: opts.certManager === true ? 'cert-manager' : 'generate',
    // Deleting needs no certificate: do not create (or read) a CA for it.
    ca: opts.caDir !== undefined && !uninstall ? await caFromDir(opts.caDir) : undefined,
    prometheusOperator: opts.prometheusOperator === true,
    storage: opts.storage as InstallOptions['storage'] | undefined,
    databaseSecret: opts.databaseSecret,
    kekSecret: opts.kekSecret,
    epcResource: opts.epcResource as InstallOptions['epcResource'] | undefined,
    nodeCapacityCheck: opts.nodeCapacity !== false,
    pccsUrl: opts.pccs,
    adminTokenSecret: opts.adminTokenSecret,
  });
}

export async function installCommand(opts: InstallCommandOptions): Promise<void> {
  const json = opts.json === true;
  try {
    const format = opts.output ?? 'yaml';
    if (format !== 'yaml' && format !== 'json') throw new CliError('INVALID_ARGUMENT', '-o/--output must be yaml or json');
    const o = await options(opts);
    const rendered = await renderInstall(o);
    if (opts.uninstall === true) {
      const order = uninstallOrder(rendered).map(identity);
      if (opts.dryRun === true) {
        if (json) printJson({ ok: true, uninstall: order.map((x) => x['metadata']) });
        else process.stdout.write(listing(order));
        return;
      }
      process.stdout.write(format === 'json' ? objectsToJson(order) : objectsToYaml(order, 'Delete order: webhook configurations first (kubectl delete -f -)'));
      return;
    }
    const all = rendered.groups.flatMap((g) => g.objects);
    if (opts.dryRun === true) {
      if (json) printJson({ ok: true, files: rendered.groups.map((g) => ({ file: g.file, objects: g.objects.length })), objects: all.length });
      else process.stdout.write(listing(all));
      return;
    }
    if (opts.outDir !== undefined) {
      let files: string[];
      try {
        files = writeGroups(rendered.groups, opts.outDir, format);
      } catch (e) {
        throw new CliError('OUTPUT_UNWRITABLE', `cannot write to ${opts.outDir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (json) printJson({ ok: true, dir: opts.outDir, files, objects: all.length });
      else process.stdout.write(`wrote ${files.length} files (${all.length} objects) to ${opts.outDir}\n  ${files.join('\n  ')}\n`);
      return;
    }
    process.stdout.write(format === 'json' ? objectsToJson(all) : groupsToYaml(rendered.groups));
  } catch (e) {
    if (e instanceof WebhookError || e instanceof CliError) {
      const usage = e.code === 'INVALID_ARGUMENT' || e.code === 'INVALID_OPTION';
      if (json) printJson({ ok: false, error: { code: e.code, message: e.message } });
      else process.stderr.write(`error ${e.code}: ${e.message}\n`);
      process.exitCode = usage ? 2 : 1;
      return;
    }
    throw e;
  }
}
