import { App, AppProps, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EcsEventsStack } from './ecs-events-stack';

export const STACK_NAME = 'EcsEvents';

/** CDK's own context key: the stacks (glob patterns) whose assets are bundled. */
export const BUNDLING_STACKS = 'aws:cdk:bundling-stacks';

/**
 * The app: the EcsEvents stack, checked by cdk-nag's AWS Solutions pack.
 *
 * Context `skipBundling=true` (`npm run synth`, CI, the tests) sets CDK's `aws:cdk:bundling-stacks`
 * to [] so no Rust is compiled: the CLI (2.1100+) always sets that key itself and refuses
 * `-c aws:...` keys, so the app applies it. Such a cloud assembly is for checking only: its
 * function assets are the unbuilt workspace, never deploy it (`cdk deploy` synthesizes anew).
 */
export function buildApp(props: AppProps = {}): { app: App; stack: EcsEventsStack } {
  const app = new App(props);
  const skipBundling = app.node.tryGetContext('skipBundling');
  if (skipBundling === true || skipBundling === 'true') {
    app.node.setContext(BUNDLING_STACKS, []);
  } else if (skipBundling !== undefined && skipBundling !== false && skipBundling !== 'false') {
    throw new Error(`context skipBundling must be true or false, got ${JSON.stringify(skipBundling)}`);
  }

  const stack = new EcsEventsStack(app, STACK_NAME, {
    description:
      'ecs-events: react to Amazon ECS events. A listener logs every ECS event, a state tracker keeps the newest ' +
      'state of every task, container instance, service and deployment in DynamoDB, and an alerter sends one ' +
      'readable alert per incident, then digests of what followed, to SNS (and optionally to chat), and watches ' +
      'services (deployments, services down). A reconciler corrects the state from the ECS API on a schedule.',
    // Explicit env and no lookups: synth needs no AWS account. With credentials configured the CLI
    // sets CDK_DEFAULT_ACCOUNT/REGION, and deploy targets that account and region.
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT ?? '111111111111',
      region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1',
    },
  });

  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}
