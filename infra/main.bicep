// AKS Backup Guard: everything `azd up` deploys.
//
// Home resource group: the Function App (Flex Consumption, Python 3.11), its user-assigned identity,
// its storage account (identity-only: shared key disabled; deployment package, ledger tables, queues,
// Event Grid dead letters), Application Insights + Log Analytics, a Key Vault for alert secrets.
// Every watched subscription (app/watched-subscription.bicep, one module per subscription): Reader,
// Role Based Access Control Administrator limited by an ABAC condition to the role matrix, a custom
// remediation role, and an Event Grid system topic whose subscriptions feed the Event Grid function.
// With `guardWriteScopes` set, the RBAC administrator and the remediation role go only on those
// resource groups (app/guard-write-scope.bicep) instead of the whole subscriptions.
//
// Role GUIDs, the ABAC condition, the event filters and the ledger table names are generated from
// the code (`make infra-json`, infra/generated/*.json); tests/infra fails when they are stale.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; used to derive a unique token for resource names.')
param environmentName string

@minLength(1)
@description('Region of the home resource group and the Function App (a Flex Consumption region).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Name of the home resource group (default rg-<environmentName>).')
param resourceGroupName string = ''

@description('Comma-separated ids of the subscriptions the Guard watches (GUARD_SUBSCRIPTIONS).')
param watchedSubscriptionIds string

@description('Comma-separated resource group ids (the backup storage, snapshot, staging and cluster resource groups) where the Guard may write: its Role Based Access Control Administrator (ABAC-conditioned) and remediation role go on each instead of on every watched subscription. Empty (default): whole watched subscriptions. The narrow form is recommended (DEPLOY.md section 8).')
param guardWriteScopes string = ''

@allowed(['report', 'enforce'])
@description('report never writes; enforce applies the safe fixes (GUARD_MODE).')
param mode string = 'report'

@description('Also allow cluster changes: CSI driver, snapshot controller, extension install (GUARD_REMEDIATE_CLUSTER). Adds managedClusters/write and extensions/write to the custom role.')
param remediateCluster bool = false

@description('Run the in-cluster Velero check through AKS run command (GUARD_INCLUSTER_CHECKS). Adds managedClusters/runCommand/action to the custom role.')
param inclusterChecks bool = false

@description('NCRONTAB (6 fields) of the full drift scan (DRIFT_SCAN_SCHEDULE).')
param driftScanSchedule string = '0 */30 * * * *'

@description('Prefix of the ledger table names (GUARD_TABLE_PREFIX).')
param tablePrefix string = 'guard'

@description('Storage queues the Guard uses (generated from shared/workqueue.py).')
param queueNames array = loadJsonContent('generated/storage.json').queues

@description('Name of the Event Grid triggered function (the handler\'s function name).')
param eventFunctionName string = 'guard_events'

@description('Create the Event Grid subscriptions. Event Grid checks that the function exists, so azd sets this after the first deploy (postdeploy hook).')
param eventSubscriptionsEnabled bool = false

@description('Resource group created in each watched subscription for its Event Grid system topic.')
param eventsResourceGroupName string = 'rg-aks-backup-guard-events'

@description('Storage account ids the Guard may list blobs in (storage.container-dedicated): Storage Blob Data Reader on each.')
param blobReaderStorageAccountIds array = []

@description('Storage account id where a newly installed backup extension stores backups (GUARD_EXTENSION_STORAGE_ACCOUNT_ID).')
param extensionStorageAccountId string = ''

@description('Blob container for a newly installed backup extension (GUARD_EXTENSION_BLOB_CONTAINER).')
param extensionBlobContainer string = ''

@description('Comma-separated subscription or resource group ids inside which everything belongs to one owner (GUARD_TRUST_DOMAINS; docs/trust-model.md). Empty: consent comes from tags only.')
param trustDomains string = ''

@description('Alert recipients, comma-separated (GUARD_EMAIL_TO).')
param emailTo string = ''
@description('Sender address (GUARD_EMAIL_FROM).')
param emailFrom string = ''
@description('SMTP relay host (GUARD_SMTP_HOST); empty: no SMTP.')
param smtpHost string = ''
param smtpPort int = 587
param smtpUser string = ''
param smtpStartTls bool = true
@description('Azure Communication Services endpoint for email through managed identity (GUARD_ACS_ENDPOINT).')
param acsEndpoint string = ''
@allowed(['info', 'warn', 'fail'])
param minSeverity string = 'warn'
param renotifyHours int = 24

@description('Alert routing table, JSON (GUARD_ALERT_ROUTES; docs/alerts.md). Empty: one receiver from the Teams/email/Event Grid settings.')
param alertRoutes string = ''
@allowed(['vault', 'subscription', 'resource_group', 'owner'])
@description('What event-driven alerts are grouped by (GUARD_ALERT_GROUP_BY).')
param alertGroupBy string = 'vault'
@description('Tag naming the owning team of a cluster or vault, for routing (GUARD_OWNER_TAG).')
param ownerTag string = 'owner'
@description('Optional https link to the full HTML report, shown when a card cannot list every target (GUARD_REPORT_URL).')
param reportUrl string = ''
@description('Per-receiver Teams webhooks: app-setting name (as the routing table names it) -> its value, a Key Vault reference "@Microsoft.KeyVault(SecretUri=...)" (never the URL itself).')
param receiverWebhookSettings object = {}

@secure()
@description('Teams Workflows webhook URL. Stored in Key Vault; the app setting is a Key Vault reference.')
param teamsWebhookUrl string = ''
@secure()
@description('SMTP password. Stored in Key Vault; the app setting is a Key Vault reference.')
param smtpPassword string = ''

@description('Create an Event Grid custom topic for drift events (CloudEvents 1.0) and let the Guard publish to it (GUARD_EVENTGRID_TOPIC_ENDPOINT).')
param driftEventsTopicEnabled bool = false

@description('Upper bound of Flex Consumption instances (the queue worker scales out to this).')
param maximumInstanceCount int = 40

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, product: 'aks-backup-guard' }
var subscriptionIds = [for s in split(watchedSubscriptionIds, ','): toLower(trim(s))]
var subscriptions = filter(subscriptionIds, s => !empty(s))
var declaredWriteScopes = [for s in split(guardWriteScopes, ','): trim(s)]
var writeScopes = filter(declaredWriteScopes, s => !empty(s))
// Declared scopes that are not a resource group id in a watched subscription get nothing (output below).
var ignoredWriteScopes = filter(writeScopes, id => length(split(id, '/')) != 5 || !contains(subscriptions, toLower(split(id, '/')[2])))
var functionAppName = 'func-guard-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'
var storageTables = loadJsonContent('generated/storage.json')

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identities 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    guardIdentityName: 'id-guard-${resourceToken}'
    eventGridIdentityName: 'id-guard-eventgrid-${resourceToken}'
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'stguard${resourceToken}'
    containerNames: [deploymentContainerName, deadLetterContainerName]
    tableNames: [for s in storageTables.tableSuffixes: '${tablePrefix}${s}']
    queueNames: queueNames
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-guard-${resourceToken}'
    applicationInsightsName: 'appi-guard-${resourceToken}'
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-guard-${take(resourceToken, 12)}'
    teamsWebhookUrl: teamsWebhookUrl
    smtpPassword: smtpPassword
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    guardPrincipalId: identities.outputs.guardPrincipalId
    eventGridPrincipalId: identities.outputs.eventGridPrincipalId
  }
}

module driftTopic 'app/eventgrid-topic.bicep' = if (driftEventsTopicEnabled) {
  name: 'drift-events-topic'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'egt-guard-${resourceToken}'
    guardPrincipalId: identities.outputs.guardPrincipalId
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  dependsOn: [rbac]
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'guard' })
    name: functionAppName
    planName: 'plan-guard-${resourceToken}'
    maximumInstanceCount: maximumInstanceCount
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    guardIdentityId: identities.outputs.guardIdentityId
    guardClientId: identities.outputs.guardClientId
    guardPrincipalId: identities.outputs.guardPrincipalId
    subscriptions: join(subscriptions, ',')
    mode: mode
    remediateCluster: remediateCluster
    inclusterChecks: inclusterChecks
    driftScanSchedule: driftScanSchedule
    tablePrefix: tablePrefix
    extensionStorageAccountId: extensionStorageAccountId
    extensionBlobContainer: extensionBlobContainer
    trustDomains: trustDomains
    emailTo: emailTo
    emailFrom: emailFrom
    smtpHost: smtpHost
    smtpPort: smtpPort
    smtpUser: smtpUser
    smtpStartTls: smtpStartTls
    acsEndpoint: acsEndpoint
    minSeverity: minSeverity
    renotifyHours: renotifyHours
    alertRoutes: alertRoutes
    alertGroupBy: alertGroupBy
    ownerTag: ownerTag
    reportUrl: reportUrl
    receiverWebhookSettings: receiverWebhookSettings
    teamsWebhookSecretUri: keyVault.outputs.teamsWebhookSecretUri
    smtpPasswordSecretUri: keyVault.outputs.smtpPasswordSecretUri
    eventGridTopicEndpoint: driftEventsTopicEnabled ? driftTopic.outputs.endpoint : ''
  }
}

module watched 'app/watched-subscription.bicep' = [
  for sub in subscriptions: {
    name: 'guard-watch-${take(uniqueString(sub, environmentName), 8)}'
    scope: subscription(sub)
    params: {
      location: location
      tags: tags
      environmentName: environmentName
      guardPrincipalId: identities.outputs.guardPrincipalId
      remediateCluster: remediateCluster
      inclusterChecks: inclusterChecks
      writeScopes: writeScopes
      eventsResourceGroupName: eventsResourceGroupName
      eventSubscriptionsEnabled: eventSubscriptionsEnabled
      functionAppId: functionApp.outputs.id
      eventFunctionName: eventFunctionName
      eventGridIdentityId: identities.outputs.eventGridIdentityId
      deadLetterStorageAccountId: storage.outputs.id
      deadLetterContainerName: deadLetterContainerName
    }
  }
]

module blobReaders 'app/blob-reader.bicep' = [
  for accountId in blobReaderStorageAccountIds: {
    name: 'guard-blob-reader-${take(uniqueString(accountId, environmentName), 8)}'
    scope: resourceGroup(split(accountId, '/')[2], split(accountId, '/')[4])
    params: {
      storageAccountName: last(split(accountId, '/'))
      guardPrincipalId: identities.outputs.guardPrincipalId
    }
  }
]

// azd reads these into the environment (`azd env get-values`); no secret is ever an output.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_GUARD_NAME string = functionApp.outputs.name
output GUARD_PRINCIPAL_ID string = identities.outputs.guardPrincipalId
output GUARD_SUBSCRIPTIONS string = join(subscriptions, ',')
output GUARD_MODE string = mode
output GUARD_WRITE_SCOPES string = join(writeScopes, ',')
output GUARD_WRITE_SCOPES_IGNORED string = join(ignoredWriteScopes, ',')
output GUARD_TABLE_PREFIX string = tablePrefix
output AzureWebJobsStorage__accountName string = storage.outputs.name
output AzureWebJobsStorage__tableServiceUri string = storage.outputs.tableEndpoint
output AzureWebJobsStorage__queueServiceUri string = storage.outputs.queueEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.logAnalyticsCustomerId
output GUARD_EVENTGRID_TOPIC_ENDPOINT string = driftEventsTopicEnabled ? driftTopic.outputs.endpoint : ''
output GUARD_EVENTGRID_TOPIC_ID string = driftEventsTopicEnabled ? driftTopic.outputs.id : ''
