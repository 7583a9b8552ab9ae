// The Function App on Flex Consumption (Linux, Python 3.11) with the Guard's user-assigned identity:
// deployment package from a blob container (identity auth), identity-based AzureWebJobsStorage,
// App Insights with Entra ID auth, alert secrets as Key Vault references.
param location string
param tags object
param name string
param planName string
param maximumInstanceCount int
@allowed([2048, 4096])
param instanceMemoryMB int = 2048
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param guardIdentityId string
param guardClientId string
param guardPrincipalId string

param subscriptions string
param mode string
param remediateCluster bool
param inclusterChecks bool
param driftScanSchedule string
param tablePrefix string
param extensionStorageAccountId string
param extensionBlobContainer string
param trustDomains string
param emailTo string
param alertRoutes string = ''
param alertGroupBy string = 'vault'
param ownerTag string = 'owner'
param reportUrl string = ''
@description('App-setting name -> Key Vault reference value of each routing-table receiver\'s Teams webhook (infra/DEPLOY.md).')
param receiverWebhookSettings object = {}
param emailFrom string
param smtpHost string
param smtpPort int
param smtpUser string
param smtpStartTls bool
param acsEndpoint string
param minSeverity string
param renotifyHours int
@description('Versionless Key Vault secret URI, or empty when no Teams webhook is configured.')
param teamsWebhookSecretUri string
@description('Versionless Key Vault secret URI, or empty when no SMTP password is configured.')
param smtpPasswordSecretUri string
@description('Event Grid topic endpoint for drift events (empty: the Event Grid channel is off). The Guard publishes with its identity (EventGrid Data Sender on the topic).')
param eventGridTopicEndpoint string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions and this template must deploy in every Flex region; a zonal outage delays work without losing it (Event Grid retries delivery for 24 h, queue messages persist, the timer's full scan re-verifies everything)
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Event Grid delivers ARM events to the function's public HTTPS endpoint (validated with the Event Grid system key) and operators call the HTTP API with function keys; this template has no VNet, so the endpoint must stay reachable
  // checkov:skip=CKV_AZURE_17: client certificates would refuse Event Grid's webhook deliveries, which present none; requests are authenticated by function keys and the Event Grid system key, TLS 1.2 only
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero per trigger; always-ready instances would bill around the clock for event-driven work that is retried (queue, Event Grid) and re-scanned by the timer
  // checkov:skip=CKV_AZURE_213: no long-lived instances to take out of rotation (Flex Consumption scales per trigger); trigger failures are retried or dead-lettered and show in Application Insights
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${guardIdentityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: guardIdentityId
    siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled', http20Enabled: true }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: guardIdentityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

// Alert secrets: a Key Vault reference when configured, else empty (the code treats empty as unset).
var teamsWebhookSetting = empty(teamsWebhookSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${teamsWebhookSecretUri})'
var smtpPasswordSetting = empty(smtpPasswordSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${smtpPasswordSecretUri})'

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov reads every sites/config as the 'web' config; this one is 'appsettings' (name/value
  // pairs only), so the 'web' properties below cannot be set here:
  // checkov:skip=CKV_AZURE_66: failed request tracing is a 'web' config property, not an app setting; invocations are traced in Application Insights
  // checkov:skip=CKV_AZURE_63: HTTP logging is a 'web' config property, not an app setting; requests are logged to Application Insights
  // checkov:skip=CKV_AZURE_65: detailed error messages are a 'web' config property, not an app setting
  // checkov:skip=CKV_AZURE_222: public network access is a site property (excused on the site above), not an app setting
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply: a Python 3.11 Linux app, set in functionAppConfig.runtime
  // checkov:skip=CKV_AZURE_13: App Service Authentication would refuse Event Grid deliveries; the HTTP API is authorised by function keys
  // checkov:skip=CKV_AZURE_88: Azure Files content share does not exist on Flex Consumption: the package comes from a blob container with identity auth
  parent: site
  name: 'appsettings'
  // BEGIN app settings: every name shared/settings.py and the handlers read (tests/infra checks this).
  properties: union(receiverWebhookSettings, {
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: guardClientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${guardClientId};Authorization=AAD'
    AZURE_CLIENT_ID: guardClientId
    GUARD_PRINCIPAL_ID: guardPrincipalId
    GUARD_SUBSCRIPTIONS: subscriptions
    GUARD_MODE: mode
    GUARD_REMEDIATE_CLUSTER: string(remediateCluster)
    GUARD_INCLUSTER_CHECKS: string(inclusterChecks)
    DRIFT_SCAN_SCHEDULE: driftScanSchedule
    GUARD_TABLE_PREFIX: tablePrefix
    GUARD_DEBOUNCE_SECONDS: '30'
    GUARD_PRINCIPAL_RETRY_SECONDS: '120'
    GUARD_PROVIDER_WAIT_SECONDS: '300'
    GUARD_EXTENSION_STORAGE_ACCOUNT_ID: extensionStorageAccountId
    GUARD_EXTENSION_BLOB_CONTAINER: extensionBlobContainer
    GUARD_TRUST_DOMAINS: trustDomains
    GUARD_ARM_ENDPOINT: environment().resourceManager
    GUARD_ARM_CONCURRENCY: '8'
    GUARD_ARM_TIMEOUT_SECONDS: '30'
    GUARD_ARM_RETRY_TOTAL: '6'
    GUARD_PORTAL_URL: environment().portal
    GUARD_TEAMS_WEBHOOK_URL: teamsWebhookSetting
    GUARD_EMAIL_TO: emailTo
    GUARD_EMAIL_FROM: emailFrom
    GUARD_SMTP_HOST: smtpHost
    GUARD_SMTP_PORT: string(smtpPort)
    GUARD_SMTP_USER: smtpUser
    GUARD_SMTP_PASSWORD: smtpPasswordSetting
    GUARD_SMTP_STARTTLS: string(smtpStartTls)
    GUARD_ACS_ENDPOINT: acsEndpoint
    GUARD_ACS_CLIENT_ID: guardClientId
    GUARD_MIN_SEVERITY: minSeverity
    GUARD_RENOTIFY_HOURS: string(renotifyHours)
    GUARD_ALERT_MAX_ATTEMPTS: '8'
    GUARD_ALERT_TIMEOUT_SECONDS: '15'
    GUARD_ALERT_BACKOFF_SECONDS: '60'
    GUARD_EVENTGRID_TOPIC_ENDPOINT: eventGridTopicEndpoint
    // the deployed Guard publishes with its managed identity (Entra token); a topic key is only for
    // topics outside this deployment (set it as a Key Vault reference by hand if you must)
    GUARD_EVENTGRID_TOPIC_KEY: ''
    GUARD_EVENTGRID_SOURCE: site.id
    GUARD_ALERT_ROUTES: alertRoutes
    GUARD_ALERT_GROUP_BY: alertGroupBy
    GUARD_ALERT_GROUP_WAIT_SECONDS: '30'
    GUARD_ALERT_GROUP_INTERVAL_SECONDS: '300'
    GUARD_OWNER_TAG: ownerTag
    GUARD_REPORT_URL: reportUrl
  })
  // END app settings
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
