// lib/aws-commands.ts stand-ins become SDK commands in lib/aws.ts, from the lib/aws-sdk-<service>.ts
// module of their service, which names only the classes the runbook sends: a stand-in
// without its class there would fail at its first call, so this fails first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as commands from '../lib/aws-commands.js';
import * as iam from '../lib/aws-sdk-iam.js';
import * as sts from '../lib/aws-sdk-sts.js';
import * as eks from '../lib/aws-sdk-eks.js';
import * as IamPackage from '@aws-sdk/client-iam';

const modules: Record<string, Record<string, unknown>> = { iam, sts, eks };

test('every stand-in command has its SDK class in its service module', () => {
  const standIns = Object.entries(commands).filter(([name]) => name.endsWith('Command'));
  assert.ok(standIns.length > 30, 'the stand-ins should be found');
  for (const [name, cls] of standIns) {
    const { service } = (cls as { prototype: commands.Deferred }).prototype[commands.DEFERRED];
    const real = modules[service]![name];
    assert.type(real, 'function', `${name} is missing from lib/aws-sdk-${service}.ts`);
    assert.is((real as { name: string }).name, name);
  }
});

test('each service module holds its client and the SDK\'s own classes', () => {
  assert.type(iam.IAMClient, 'function');
  assert.type(sts.STSClient, 'function');
  assert.type(eks.EKSClient, 'function');
  assert.is(iam.GetRoleCommand, IamPackage.GetRoleCommand);
});

test.run();
