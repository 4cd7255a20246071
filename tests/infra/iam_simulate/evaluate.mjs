// Evaluates IAM requests against policies with @cloud-copilot/iam-simulate.
// stdin: JSON list of {id, principal, action, resource, accountId, context,
//                      identityPolicies: [{name, policy}], resourcePolicy}
// stdout: JSON list of {id, result, ignoredContextKeys, errors}
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const answers = []
for (const c of cases) {
  const outcome = await runSimulation(
    {
      identityPolicies: c.identityPolicies ?? [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: c.resourcePolicy ?? undefined,
      request: {
        principal: c.principal,
        action: c.action,
        resource: { resource: c.resource, accountId: c.accountId },
        contextVariables: c.context ?? {}
      }
    },
    {}
  )
  if (outcome.resultType === 'error') {
    answers.push({ id: c.id, result: 'Error', ignoredContextKeys: [], errors: outcome.errors })
  } else if (outcome.resultType === 'single') {
    answers.push({
      id: c.id,
      result: outcome.overallResult,
      ignoredContextKeys: outcome.result.ignoredContextKeys ?? [],
      errors: null
    })
  } else {
    answers.push({
      id: c.id,
      result: outcome.overallResult,
      ignoredContextKeys: outcome.results.flatMap((r) => r.ignoredContextKeys ?? []),
      errors: null
    })
  }
}
process.stdout.write(JSON.stringify(answers))
