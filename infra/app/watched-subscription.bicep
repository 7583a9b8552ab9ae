// One watched subscription: the Guard's rights there and the Event Grid feed from it.
//
// - Reader: every check reads ARM (and nothing else) at subscription scope.
// - Role Based Access Control Administrator with an ABAC condition (generated from the role matrix,
//   infra/generated/rbac-condition.json, with the Guard's own principal id substituted): it can
//   create assignments only of the matrix roles, only for service principals other than the Guard
//   itself, and can delete none. Never Owner or User Access Administrator.
// - A custom "remediator" role with only the extra resource writes remediation needs (cluster
//   writes and run command only when the matching parameter is on), and a custom "registrar" role
//   with only Microsoft.KubernetesConfiguration/register/action (a subscription-level action).
// - Where: with `writeScopes` empty (the default) the RBAC administrator and the remediator are
//   assigned on the whole subscription. Once any scope is declared, every watched subscription is
//   narrow: they go only on the listed resource groups of this subscription
//   (guard-write-scope.bicep), none elsewhere. The narrow form is recommended (DEPLOY.md section 8).
// - A Microsoft.Resources.Subscriptions system topic (in its own resource group) and event
//   subscriptions to the Event Grid function, filtered to the operations the route table needs.
targetScope = 'subscription'

param location string
param tags object
param environmentName string
param guardPrincipalId string
param remediateCluster bool
param inclusterChecks bool
@description('Every declared write scope (resource group ids, main.bicep guardWriteScopes); those in this subscription get the Guard\'s write rights. Empty: the whole subscription.')
param writeScopes array = []
param eventsResourceGroupName string
param eventSubscriptionsEnabled bool
param functionAppId string
param eventFunctionName string
param eventGridIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string

var roles = loadJsonContent('../generated/roles.json').builtin
var abac = loadJsonContent('../generated/rbac-condition.json')
var subscriptionWide = empty(writeScopes)

var resourceActions = [
  'Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write' // trusted-access.binding
  'Microsoft.Storage/storageAccounts/write' // storage.network-access (networkAcls)
]
var clusterActions = remediateCluster ? [
  'Microsoft.ContainerService/managedClusters/write' // CSI driver / snapshot controller
  'Microsoft.KubernetesConfiguration/extensions/write' // extension.installed
] : []
var runCommandActions = inclusterChecks ? [
  'Microsoft.ContainerService/managedClusters/runCommand/action' // cluster.velero-absent
] : []

resource guardReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, guardPrincipalId, roles.Reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.Reader)
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: read every prerequisite'
  }
}

resource guardRbacAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (subscriptionWide) {
  name: guid(subscription().id, guardPrincipalId, roles['Role Based Access Control Administrator'])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Role Based Access Control Administrator'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    condition: replace(abac.condition, abac.guardPrincipalIdPlaceholder, guardPrincipalId)
    conditionVersion: abac.conditionVersion
    description: 'AKS Backup Guard: assign only the role-matrix roles, only to other service principals; never delete'
  }
}

resource remediator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'aks-backup-guard-remediator', environmentName)
  properties: {
    roleName: 'AKS Backup Guard Remediator (${environmentName}, ${subscription().subscriptionId})'
    description: 'The resource writes AKS Backup Guard remediation needs beyond Reader and the constrained RBAC administrator.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: concat(resourceActions, clusterActions, runCommandActions)
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource registrar 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'aks-backup-guard-registrar', environmentName)
  properties: {
    roleName: 'AKS Backup Guard Registrar (${environmentName}, ${subscription().subscriptionId})'
    description: 'Register the Microsoft.KubernetesConfiguration resource provider (AKS Backup Guard).'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: [
          'Microsoft.KubernetesConfiguration/register/action' // subscription.kubernetes-configuration-registered
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource guardRemediator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (subscriptionWide) {
  name: guid(subscription().id, guardPrincipalId, remediator.id)
  properties: {
    roleDefinitionId: remediator.id
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: remediation writes'
  }
}

resource guardRegistrar 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, guardPrincipalId, registrar.id)
  properties: {
    roleDefinitionId: registrar.id
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: register Microsoft.KubernetesConfiguration'
  }
}

// The narrow form: the same RBAC administrator (same condition) and remediator, per resource group.
module writeScopeRights 'guard-write-scope.bicep' = [
  for scopeId in writeScopes: if (length(split(scopeId, '/')) == 5 && toLower(split(scopeId, '/')[2]) == toLower(subscription().subscriptionId)) {
    name: 'guard-write-${take(uniqueString(scopeId, environmentName), 8)}'
    scope: resourceGroup(split(scopeId, '/')[2], split(scopeId, '/')[4])
    params: {
      guardPrincipalId: guardPrincipalId
      remediatorRoleId: remediator.id
    }
  }
]

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: eventsResourceGroupName
  location: location
  tags: tags
}

module events 'events.bicep' = {
  name: 'guard-events-${take(uniqueString(subscription().id, environmentName), 8)}'
  scope: eventsGroup
  params: {
    tags: tags
    systemTopicName: 'evgt-guard-${take(uniqueString(subscription().id, environmentName), 8)}'
    eventSubscriptionsEnabled: eventSubscriptionsEnabled
    functionAppId: functionAppId
    eventFunctionName: eventFunctionName
    eventGridIdentityId: eventGridIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
  }
}

output customRoleId string = remediator.id
output registrarRoleId string = registrar.id
output systemTopicId string = events.outputs.systemTopicId
