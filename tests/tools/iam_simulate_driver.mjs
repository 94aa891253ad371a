// Test oracle driver for @cloud-copilot/iam-simulate (AGPL-3.0).
//
// Used ONLY by the differential test (tests/unit/test_evaluator_differential.py) to check
// datalake's own IAM evaluator; never imported or shipped by the product.
//
// Protocol (one invocation per test run, so the suite stays fast; the requests are spread over
// worker threads of that one process, since each simulation is CPU-bound):
//   stdin : {"policySets": {"<name>": {"identity": [{"name", "policy"}], "resource": <policy|null>}},
//            "requests": [{"policySet", "principal", "action", "resource", "accountId",
//                          "context": {"key": "str" | ["str", ...]}}]}
//   stdout: {"results": [{"result": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied"|null,
//                         "ignoredContextKeys": [...], "error": <string|null>}]}
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { availableParallelism } from 'node:os'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function simulate(policySet, request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context
    },
    identityPolicies: policySet.identity,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: policySet.resource ?? undefined
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { result: null, ignoredContextKeys: [], error: JSON.stringify(response.errors) }
  }
  if (response.resultType === 'single') {
    return {
      result: response.overallResult,
      ignoredContextKeys: response.result.ignoredContextKeys ?? [],
      error: null
    }
  }
  return { result: response.overallResult, ignoredContextKeys: [], error: 'wildcard resource' }
}

async function simulateAll(policySets, requests) {
  const results = []
  for (const request of requests) {
    const policySet = policySets[request.policySet]
    if (!policySet) {
      results.push({ result: null, ignoredContextKeys: [], error: `unknown policySet ${request.policySet}` })
      continue
    }
    try {
      results.push(await simulate(policySet, request))
    } catch (err) {
      results.push({ result: null, ignoredContextKeys: [], error: String(err && err.stack ? err.stack : err) })
    }
  }
  return results
}

function runWorker(policySets, requests) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { policySets, requests } })
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

if (isMainThread) {
  const input = JSON.parse(await readStdin())
  const workers = Math.max(1, Math.min(availableParallelism(), 4, Math.ceil(input.requests.length / 250)))
  const size = Math.ceil(input.requests.length / workers)
  const chunks = []
  for (let start = 0; start < input.requests.length; start += size) {
    chunks.push(input.requests.slice(start, start + size))
  }
  const answers = await Promise.all(chunks.map((chunk) => runWorker(input.policySets, chunk)))
  process.stdout.write(JSON.stringify({ results: answers.flat() }))
} else {
  parentPort.postMessage(await simulateAll(workerData.policySets, workerData.requests))
}
